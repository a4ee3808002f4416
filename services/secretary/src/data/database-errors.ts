// The secretary's repositories import the guard from here; it lives in @workemon/db, shared with the communicator.
export { guardDatabase } from '@workemon/db';
