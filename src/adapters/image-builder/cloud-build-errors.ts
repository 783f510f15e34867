import { DyffError, ErrorType } from '../../domain/errors.js';
import { grpcCode, GRPC } from './cloud-build-api.js';

/** Errors no retry can fix become DyffErrors saying what to do; everything else is returned as is. */
export function cloudBuildError(
  err: unknown,
  what: string,
  where: { projectId: string; location: string; repository: string },
): unknown {
  const code = grpcCode(err);
  const message = (err as Error | undefined)?.message ?? String(err);
  const project = where.projectId;
  const details = { projectId: project, grpcCode: code };
  if (code === GRPC.PERMISSION_DENIED) {
    return new DyffError(
      ErrorType.InvalidSpec,
      `Cloud Build refused to ${what} in project ${project} (PERMISSION_DENIED: ${message}). Enable the API ` +
        `(gcloud services enable cloudbuild.googleapis.com --project ${project}), grant the caller ` +
        `roles/cloudbuild.builds.editor, and give the Cloud Build service account roles/artifactregistry.writer ` +
        `on ${where.repository} and read access to the source bucket.`,
      details,
    );
  }
  if (code === GRPC.NOT_FOUND) {
    return new DyffError(
      ErrorType.NotFound,
      `Cloud Build could not ${what} in project ${project} (NOT_FOUND: ${message}). Check the project and ` +
        `location, that the source object exists, and that the repository exists (gcloud artifacts repositories ` +
        `create ${where.repository} --repository-format=docker --location=${where.location}).`,
      details,
    );
  }
  if (code === GRPC.INVALID_ARGUMENT) {
    return new DyffError(
      ErrorType.InvalidSpec,
      `Cloud Build rejected the request to ${what} (INVALID_ARGUMENT: ${message}). Check the source ` +
        `bucket/object, the Dockerfile path and the location ${where.location}.`,
      details,
    );
  }
  return err;
}
