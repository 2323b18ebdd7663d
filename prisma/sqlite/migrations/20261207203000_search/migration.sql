-- Full-text search (search_messages, docs/decisions.md "Search: two stores, one query language"): one FTS5 index of
-- every message's searched text and every conversation's title, written by triggers, so every write (the API's, a
-- cascade, db:copy, any other) keeps it in step in the same transaction as the row. Rows already stored are indexed
-- after this migration, in batches (the Backfill table below; src/store/migrate/backfill.ts).
--
-- Contentless (content=''): the index holds tokens only, not a second copy of the text. A row's rowid is the
-- message's id, or minus the conversation's id for its title. `scope` holds the conversation's token (c<id>), so a
-- search in one conversation reads its postings only; its rank weight is zero. The owner is not in the index: bm25
-- counts the rows holding each term of a query, and a user's token held by a million rows would be read whole by every
-- search of that user (docs/performance.md, "Search"). unicode61 with remove_diacritics 2 folds case and Latin
-- diacritics (cafe finds Café); prefix indexes of two and three characters serve short prefix* terms.
CREATE VIRTUAL TABLE "SearchIndex" USING fts5(
  scope, body,
  content = '', contentless_delete = 1,
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'
);

-- A message's index entry: what search reads of it, the text of its text, reasoning and refusal parts and its tool
-- results' output, in order, joined by newlines, up to its first 100,000 characters (PostgreSQL's tsvector holds at
-- most 1 MB, and the stores search alike); null when it has none. The backfill and the hits' snippets read it here,
-- and the insert trigger below writes the same out.
CREATE VIEW "MessageSearchRow" AS
SELECT m."id" AS "rowid", 'c' || m."conversationId" AS "scope",
  (SELECT substr(group_concat(coalesce(json_extract(part.value, '$.text'), json_extract(part.value, '$.output')), char(10)), 1, 100000)
   FROM json_each(m."parts") AS part
   WHERE json_extract(part.value, '$.type') IN ('text', 'reasoning', 'refusal', 'tool_result')) AS "body"
FROM "Message" AS m;

-- A conversation's title's index entry, under minus its id (the triggers and the backfill find it by `id`: SQLite
-- looks a negated column up by scanning the table).
CREATE VIEW "TitleSearchRow" AS
SELECT "id", -"id" AS "rowid", 'c' || "id" AS "scope", "title" AS "body" FROM "Conversation" WHERE "title" IS NOT NULL;

-- The view's entry, written out on new."parts": SQLite does not flatten that view inside a trigger, and reading the
-- message back through it cost about 250 µs an insert where this costs about 35 (docs/performance.md, "Search").
CREATE TRIGGER "Message_search_insert" AFTER INSERT ON "Message" BEGIN
  INSERT INTO "SearchIndex" (rowid, scope, body)
  SELECT new."id", 'c' || new."conversationId", t."body"
  FROM (SELECT substr(group_concat(coalesce(json_extract(part.value, '$.text'), json_extract(part.value, '$.output')), char(10)), 1, 100000) AS "body"
        FROM json_each(new."parts") AS part
        WHERE json_extract(part.value, '$.type') IN ('text', 'reasoning', 'refusal', 'tool_result')) AS t
  WHERE t."body" IS NOT NULL;
END;

CREATE TRIGGER "Message_search_delete" AFTER DELETE ON "Message" BEGIN
  DELETE FROM "SearchIndex" WHERE rowid = old."id";
END;

CREATE TRIGGER "Conversation_search_insert" AFTER INSERT ON "Conversation" WHEN new."title" IS NOT NULL BEGIN
  INSERT INTO "SearchIndex" (rowid, scope, body) SELECT "rowid", "scope", "body" FROM "TitleSearchRow" WHERE "id" = new."id";
END;

CREATE TRIGGER "Conversation_search_update" AFTER UPDATE OF "title" ON "Conversation" WHEN new."title" IS NOT old."title" BEGIN
  DELETE FROM "SearchIndex" WHERE rowid = -old."id";
  INSERT INTO "SearchIndex" (rowid, scope, body) SELECT "rowid", "scope", "body" FROM "TitleSearchRow" WHERE "id" = new."id";
END;

CREATE TRIGGER "Conversation_search_delete" AFTER DELETE ON "Conversation" BEGIN
  DELETE FROM "SearchIndex" WHERE rowid = -old."id";
END;

-- Work a migration leaves to be done in batches after it (src/store/migrate/backfill.ts): `statement` fills the rows
-- with ids from @from to @to; the runner goes from nextId to lastId, each batch and its progress one transaction, and
-- deletes the row when done. A row another process wrote between the triggers and this is skipped, not indexed twice.
CREATE TABLE "Backfill" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "statement" TEXT NOT NULL,
    "nextId" INTEGER NOT NULL,
    "lastId" INTEGER NOT NULL
);

INSERT INTO "Backfill" ("name", "statement", "nextId", "lastId")
SELECT 'search index: conversation titles',
       'INSERT INTO "SearchIndex" (rowid, scope, body) SELECT "rowid", "scope", "body" FROM "TitleSearchRow" WHERE "id" BETWEEN @from AND @to AND "rowid" NOT IN (SELECT rowid FROM "SearchIndex" WHERE rowid BETWEEN -@to AND -@from)',
       1, max("id") FROM "Conversation" HAVING max("id") IS NOT NULL;

INSERT INTO "Backfill" ("name", "statement", "nextId", "lastId")
SELECT 'search index: messages',
       'INSERT INTO "SearchIndex" (rowid, scope, body) SELECT "rowid", "scope", "body" FROM "MessageSearchRow" WHERE "rowid" BETWEEN @from AND @to AND "body" IS NOT NULL AND "rowid" NOT IN (SELECT rowid FROM "SearchIndex" WHERE rowid BETWEEN @from AND @to)',
       1, max("id") FROM "Message" HAVING max("id") IS NOT NULL;
