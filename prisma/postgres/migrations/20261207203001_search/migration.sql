-- Full-text search (search_messages, docs/decisions.md "Search: two stores, one query language"): a tsvector of every
-- message's searched text and every conversation's title, each in a table of its own with a GIN index on its owner
-- and its words, written by triggers: every write (the API's, db:copy, any other) keeps it in step in its own
-- statement, and ON DELETE CASCADE takes a row's entry with it. Rows already stored are indexed after this migration,
-- in batches (the Backfill table below; src/store/migrate/backfill.ts), not in one long transaction.
--
-- The `simple` configuration (no stemming, no stop words: conversations mix languages, and a stemmer for one mangles
-- the others) after unaccent (cafe finds Café) and with ASCII punctuation read as spaces, so that words are split as
-- SQLite's unicode61 tokenizer splits them (foo-bar, example.com and a@b.org are words, not hosts or emails).
-- btree_gin lets one GIN index hold the owner beside the words, so a search reads one user's postings.
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;

-- The text as it is indexed, and as a query's words are read. unaccent is STABLE only because its rules file could be
-- edited; the index assumes it is not (PostgreSQL's documentation shows this wrapper).
CREATE FUNCTION search_words(text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN translate(public.unaccent('public.unaccent'::regdictionary, $1), '!"#$%&''()*+,-./:<=>?@[\]^_`{|}~' || chr(59), repeat(' ', 32));

-- A text's index entry.
CREATE FUNCTION search_vector(text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN to_tsvector('simple'::regconfig, search_words($1));

-- One term of a query: its words as a phrase (a word alone is a phrase of one), the last one a prefix when `prefix`.
-- Built by PostgreSQL's own parser from the words, never from text parsed as tsquery syntax: no input is an error.
CREATE FUNCTION search_term(words text, prefix boolean) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT CASE WHEN prefix AND numnode(q) > 0 THEN CAST(CAST(q AS text) || ':*' AS tsquery) ELSE q END
        FROM phraseto_tsquery('simple'::regconfig, search_words(words)) AS q);

-- What search reads of a message: the text of its text, reasoning and refusal parts and its tool results' output,
-- in order, joined by newlines, up to its first 100,000 characters (a tsvector holds at most 1 MB: 100,000 characters
-- of distinct one-letter words make about 550 kB); null when it has none. The index and the hits' snippets read it.
CREATE FUNCTION message_search_text(parts jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT left(string_agg(coalesce(part ->> 'text', part ->> 'output'), E'\n' ORDER BY position), 100000)
        FROM jsonb_array_elements(parts) WITH ORDINALITY AS e(part, position)
        WHERE part ->> 'type' IN ('text', 'reasoning', 'refusal', 'tool_result'));

CREATE TABLE "MessageSearch" (
    "messageId" INTEGER NOT NULL PRIMARY KEY REFERENCES "Message" ("id") ON DELETE CASCADE,
    "userId" INTEGER NOT NULL,
    "search" tsvector NOT NULL
);
CREATE INDEX "MessageSearch_userId_search_idx" ON "MessageSearch" USING GIN ("userId", "search");

CREATE TABLE "ConversationSearch" (
    "conversationId" INTEGER NOT NULL PRIMARY KEY REFERENCES "Conversation" ("id") ON DELETE CASCADE,
    "userId" INTEGER NOT NULL,
    "search" tsvector NOT NULL
);
CREATE INDEX "ConversationSearch_userId_search_idx" ON "ConversationSearch" USING GIN ("userId", "search");

-- A message's index entry, from its columns, as the trigger (on a statement's new rows) and the backfill (on stored
-- ones) both write it; none for a message without searched text.
CREATE FUNCTION message_search_entry(message_id integer, conversation_id integer, message_parts jsonb)
RETURNS TABLE ("messageId" integer, "userId" integer, "search" tsvector)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT message_id, c."userId", search_vector(t.text)
  FROM "Conversation" AS c, message_search_text(message_parts) AS t(text)
  WHERE c."id" = conversation_id AND t.text IS NOT NULL
$$;

-- A conversation's title's entry; none without a title.
CREATE VIEW "ConversationSearchRow" AS
SELECT "id" AS "conversationId", "userId", search_vector("title") AS "search" FROM "Conversation" WHERE "title" IS NOT NULL;

-- Once per statement: a create_messages of 100 messages indexes them in one INSERT.
CREATE FUNCTION index_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "MessageSearch" SELECT e.* FROM inserted AS m, message_search_entry(m."id", m."conversationId", m."parts") AS e;
  RETURN NULL;
END $$;
CREATE TRIGGER "Message_search" AFTER INSERT ON "Message"
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION index_messages();

CREATE FUNCTION index_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "ConversationSearch" WHERE "conversationId" = NEW."id";
  INSERT INTO "ConversationSearch" SELECT * FROM "ConversationSearchRow" WHERE "conversationId" = NEW."id";
  RETURN NULL;
END $$;
CREATE TRIGGER "Conversation_search_insert" AFTER INSERT ON "Conversation"
FOR EACH ROW WHEN (NEW."title" IS NOT NULL) EXECUTE FUNCTION index_title();
CREATE TRIGGER "Conversation_search_update" AFTER UPDATE OF "title" ON "Conversation"
FOR EACH ROW WHEN (NEW."title" IS DISTINCT FROM OLD."title") EXECUTE FUNCTION index_title();

-- Work a migration leaves to be done in batches after it (src/store/migrate/backfill.ts): `statement` fills the rows
-- with ids from $1 to $2; the runner goes from nextId to lastId, each batch and its progress one transaction, and
-- deletes the row when done. Ids up to the sequences' last values: every row the triggers did not see.
CREATE TABLE "Backfill" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "statement" TEXT NOT NULL,
    "nextId" INTEGER NOT NULL,
    "lastId" INTEGER NOT NULL
);

INSERT INTO "Backfill" ("name", "statement", "nextId", "lastId")
SELECT 'search index: conversation titles',
       'INSERT INTO "ConversationSearch" SELECT * FROM "ConversationSearchRow" WHERE "conversationId" BETWEEN $1 AND $2 ON CONFLICT DO NOTHING',
       1, last_value FROM "Conversation_id_seq" WHERE is_called;

INSERT INTO "Backfill" ("name", "statement", "nextId", "lastId")
SELECT 'search index: messages',
       'INSERT INTO "MessageSearch" SELECT e.* FROM "Message" AS m, message_search_entry(m."id", m."conversationId", m."parts") AS e WHERE m."id" BETWEEN $1 AND $2 ON CONFLICT DO NOTHING',
       1, last_value FROM "Message_id_seq" WHERE is_called;
