-- Forks (API v2): where a conversation was copied from, {conversationId, messageId}; null on every conversation
-- so far.

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "forkedFrom" JSONB;
