-- Idempotency-Key rows keyed by an id that grows with time: the sweep pages through it instead of an index on
-- createdAt, and the key costs its row (the rowid table) and one unique index. Kept keys are carried over, their
-- ids given in the order they were stored.
-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_IdempotencyKey" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "subject" TEXT NOT NULL DEFAULT '',
    "operation" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "rows" TEXT,
    "status" INTEGER,
    "headers" TEXT,
    "body" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_IdempotencyKey" ("body", "createdAt", "fingerprint", "headers", "key", "operation", "rows", "status", "subject") SELECT "body", "createdAt", "fingerprint", "headers", "key", "operation", "rows", "status", "subject" FROM "IdempotencyKey" ORDER BY "createdAt";
DROP TABLE "IdempotencyKey";
ALTER TABLE "new_IdempotencyKey" RENAME TO "IdempotencyKey";
CREATE UNIQUE INDEX "IdempotencyKey_subject_operation_key_key" ON "IdempotencyKey"("subject", "operation", "key");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
