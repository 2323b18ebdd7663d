-- Rich messages (API v2): content parts, model, usage and metadata per message, and lastMessageAt and usage
-- per conversation.
-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "lastMessageAt" TIMESTAMP(3),
ADD COLUMN     "usage" JSONB NOT NULL DEFAULT '{"inputTokens":0,"outputTokens":0}';

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "metadata" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "model" TEXT,
ADD COLUMN     "parts" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "usage" JSONB;

-- Existing rows: every message so far is one text part, and a conversation's lastMessageAt is its newest
-- message's createdAt.
UPDATE "Message" SET "parts" = jsonb_build_array(jsonb_build_object('type', 'text', 'text', "content"));
UPDATE "Conversation" AS c SET "lastMessageAt" = m.last
FROM (SELECT "conversationId", max("createdAt") AS last FROM "Message" GROUP BY "conversationId") AS m
WHERE m."conversationId" = c."id";
