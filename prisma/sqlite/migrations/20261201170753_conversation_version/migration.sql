-- AlterTable
-- Written by hand instead of Prisma's table rebuild: SQLite adds a column with a constant default in
-- place, in one atomic statement, whatever the table's size; the rebuild would copy every conversation
-- and leave the table dropped but not yet renamed if the process died between its statements. The
-- resulting schema is the rebuild's (`npm run db:migration:new` finds no difference from the models).
ALTER TABLE "Conversation" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 1;
