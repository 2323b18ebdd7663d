-- Rich messages (API v2): content parts, model, usage and metadata per message, and lastMessageAt and usage per
-- conversation. Columns are added in place (no table rebuild), then existing rows are filled in: every message so
-- far is one text part, and a conversation's lastMessageAt is its newest message's createdAt.

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN "lastMessageAt" DATETIME;
ALTER TABLE "Conversation" ADD COLUMN "usage" JSONB NOT NULL DEFAULT '{"inputTokens":0,"outputTokens":0}';

-- AlterTable
ALTER TABLE "Message" ADD COLUMN "parts" JSONB NOT NULL DEFAULT '[]';
ALTER TABLE "Message" ADD COLUMN "model" TEXT;
ALTER TABLE "Message" ADD COLUMN "usage" JSONB;
ALTER TABLE "Message" ADD COLUMN "metadata" JSONB NOT NULL DEFAULT '{}';

-- Existing rows
UPDATE "Message" SET "parts" = json_array(json_object('type', 'text', 'text', "content"));
UPDATE "Conversation" SET "lastMessageAt" = (SELECT max("createdAt") FROM "Message" WHERE "conversationId" = "Conversation"."id");
