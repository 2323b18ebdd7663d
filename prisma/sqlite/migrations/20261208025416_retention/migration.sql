-- Retention (API v2): when a conversation expires (null: never), and the indexes the sweeper finds expired ones
-- by, its own expiresAt or no activity since RETENTION_DAYS ago.

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN "expiresAt" DATETIME;

-- CreateIndex
CREATE INDEX "Conversation_expiresAt_idx" ON "Conversation"("expiresAt");

-- CreateIndex
CREATE INDEX "Conversation_updatedAt_idx" ON "Conversation"("updatedAt");
