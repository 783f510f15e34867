import { defineQuery } from '@temporalio/workflow';
import type { BenchmarkView } from '../domain/benchmark.js';

/** A benchmark run: its shared model and service, and every cell (clean, then corruption × severity). */
export const benchmarkQuery = defineQuery<BenchmarkView>('benchmark');
