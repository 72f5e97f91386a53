// Test support, not part of the package's API: a Postgres cluster of a test file's own. It lives in
// @tenant-app/db/testing, where the API's end-to-end tests use it too.
export { startExtraCluster, superuserQuery, type ExtraCluster } from '@tenant-app/db/testing';
