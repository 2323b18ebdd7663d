-- Idempotency-Key rows keyed by an id that grows with time: the sweep pages through it instead of an index on
-- createdAt. Kept keys stay, numbered in the order the table holds them (the sweep steps over any out of order).
-- DropIndex
DROP INDEX "IdempotencyKey_createdAt_idx";

-- AlterTable
ALTER TABLE "IdempotencyKey" DROP CONSTRAINT "IdempotencyKey_pkey",
ADD COLUMN     "id" SERIAL NOT NULL,
ADD CONSTRAINT "IdempotencyKey_pkey" PRIMARY KEY ("id");

-- CreateIndex
CREATE UNIQUE INDEX "IdempotencyKey_subject_operation_key_key" ON "IdempotencyKey"("subject", "operation", "key");
