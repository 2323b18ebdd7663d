-- Full-text search (search_messages, docs/decisions.md "Search"): one FTS5 index of every message's searched text
-- and every conversation's title, kept in step by triggers, so every write (the API's, a cascade, db:copy) updates
-- it in the same transaction as the row.
--
-- Contentless (content=''): the index holds tokens only, not a second copy of the text. A row's rowid is the
-- message's id, or minus the conversation's id for its title. `scope` holds the owner's tokens (u<userId>,
-- c<conversationId>), so a search runs on one user's (or one conversation's) postings; its rank weight is zero.
-- unicode61 with remove_diacritics 2 folds case and diacritics (cafe finds Café); prefix indexes of two and three
-- characters serve short prefix* terms.
CREATE VIRTUAL TABLE "SearchIndex" USING fts5(
  scope, body,
  content = '', contentless_delete = 1,
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'
);

-- What search reads of a message: the text of its text, reasoning and refusal parts and its tool results' output,
-- in order, joined by newlines, up to its first 100,000 characters (PostgreSQL's tsvector holds at most 1 MB, and the
-- stores search alike); null when it has none. The index and the hits' snippets both read it here.
CREATE VIEW "MessageSearchText" AS
SELECT "Message"."id" AS "id",
  (SELECT substr(group_concat(coalesce(json_extract(part.value, '$.text'), json_extract(part.value, '$.output')), char(10)), 1, 100000)
   FROM json_each("Message"."parts") AS part
   WHERE json_extract(part.value, '$.type') IN ('text', 'reasoning', 'refusal', 'tool_result')) AS "text"
FROM "Message";

CREATE TRIGGER "Message_search_insert" AFTER INSERT ON "Message" BEGIN
  INSERT INTO "SearchIndex" (rowid, scope, body)
  SELECT new."id", 'u' || c."userId" || ' c' || c."id", t."text"
  FROM "Conversation" AS c, "MessageSearchText" AS t
  WHERE c."id" = new."conversationId" AND t."id" = new."id" AND t."text" IS NOT NULL;
END;

CREATE TRIGGER "Message_search_delete" AFTER DELETE ON "Message" BEGIN
  DELETE FROM "SearchIndex" WHERE rowid = old."id";
END;

CREATE TRIGGER "Conversation_search_insert" AFTER INSERT ON "Conversation" WHEN new."title" IS NOT NULL BEGIN
  INSERT INTO "SearchIndex" (rowid, scope, body) VALUES (-new."id", 'u' || new."userId" || ' c' || new."id", new."title");
END;

CREATE TRIGGER "Conversation_search_update" AFTER UPDATE OF "title" ON "Conversation" BEGIN
  DELETE FROM "SearchIndex" WHERE rowid = -old."id";
  INSERT INTO "SearchIndex" (rowid, scope, body)
  SELECT -new."id", 'u' || new."userId" || ' c' || new."id", new."title" WHERE new."title" IS NOT NULL;
END;

CREATE TRIGGER "Conversation_search_delete" AFTER DELETE ON "Conversation" BEGIN
  DELETE FROM "SearchIndex" WHERE rowid = -old."id";
END;

-- The rows already stored.
INSERT INTO "SearchIndex" (rowid, scope, body)
SELECT -"id", 'u' || "userId" || ' c' || "id", "title" FROM "Conversation" WHERE "title" IS NOT NULL;

INSERT INTO "SearchIndex" (rowid, scope, body)
SELECT m."id", 'u' || c."userId" || ' c' || c."id", t."text"
FROM "Message" AS m JOIN "Conversation" AS c ON c."id" = m."conversationId" JOIN "MessageSearchText" AS t ON t."id" = m."id"
WHERE t."text" IS NOT NULL;
