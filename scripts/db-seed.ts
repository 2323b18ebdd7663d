// `npm run db:seed [-- --users 12 --conversations 6 --seed 1]`: fills DATABASE_URL with demo users,
// conversations and messages, through the same repositories the API uses, so the docs page and a new
// developer have something real to look at. The same seed gives the same data.
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../src/config.js'
import { storeLimits } from '../src/contract/spec.js'
import { EXPIRY_PASSED } from '../src/store/conversations.js'
import { UnknownToolCall } from '../src/store/stored-messages.js'
import { openDatabase } from '../src/store/database.js'
import { createRepositories, fullListsOn } from '../src/store/repositories.js'
import type { NewConversation } from '../src/store/models.js'
import { mulberry32 } from './mulberry32.js'

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Katherine', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Edsger', 'Frances', 'Ken', 'Radia', 'Tim', 'Hedy', 'Donald', 'Sophie']
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Dijkstra', 'Allen', 'Thompson', 'Perlman', 'Berners-Lee', 'Lamarr', 'Knuth', 'Wilson']

interface Topic { title: string | null, tags: Record<string, string>, turns: Array<[question: string, answer: string]> }

const TOPICS: Topic[] = [
  {
    title: 'Weekend in Lisbon',
    tags: { model: 'trackbot-large', locale: 'en-GB' },
    turns: [
      ['I have two days in Lisbon. Where should I start?', 'Start in Alfama early, before the crowds: walk up to the Miradouro de Santa Luzia, then take tram 28 towards Graça.'],
      ['Is the Belém tower worth the queue?', 'The outside is the best part. If time is short, see it from the riverside and spend the queue time at the Jerónimos monastery instead.'],
      ['Where do locals eat in the evening?', 'Try a tasca in Mouraria or Campo de Ourique: grilled sardines in summer, bacalhau à Brás all year.'],
    ],
  },
  {
    title: 'Fix a flaky integration test',
    tags: { model: 'trackbot-code', repo: 'payments-api' },
    turns: [
      ['Our integration test fails about one run in twenty with a timeout. Where do I look first?', 'Look for shared state between tests: a database row, a port, or a timer that one test leaves behind. Run the file alone in a loop to see if it is the test or its neighbours.'],
      ['It only fails when the whole suite runs.', 'Then order matters. Give each test its own database or transaction, and make the test wait for an event instead of sleeping a fixed time.'],
    ],
  },
  {
    title: 'Sourdough starter',
    tags: { model: 'trackbot-large' },
    turns: [
      ['My starter smells like nail polish remover. Is it dead?', 'It is hungry, not dead. That smell is acetone from starving yeast. Feed it twice a day at a 1:1:1 ratio for a few days.'],
      ['How do I know when it is ready to bake with?', 'When it reliably doubles within 4 to 8 hours of a feed and a spoonful floats in water.'],
    ],
  },
  {
    title: 'Explain database indexes',
    tags: { model: 'trackbot-small', audience: 'beginner' },
    turns: [
      ['What does an index actually do?', 'It keeps a sorted copy of some columns with pointers back to the rows, so the database can jump to the rows it needs instead of reading the whole table.'],
      ['Why not index every column then?', 'Every index has to be updated on every write and takes space. Index the columns your queries filter and sort on, in that order.'],
      ['What is a composite index?', 'An index on several columns at once, sorted by the first, then the second. It helps queries that filter on a prefix of those columns.'],
    ],
  },
  {
    title: null,
    tags: {},
    turns: [['Translate "good morning" into Japanese.', 'おはようございます (ohayō gozaimasu). Among friends, just おはよう.']],
  },
  {
    title: 'Plan a 10k training block',
    tags: { model: 'trackbot-large', goal: 'sub-50' },
    turns: [
      ['I run 5k in 26 minutes. Can I run 10k under 50 minutes in eight weeks?', 'Probably, yes. Build to four runs a week: one interval session, one tempo, one long run, one easy run.'],
      ['What would an interval session look like?', 'After a warm-up, 6 × 800 m at about 4:45 per km with 2 minutes of easy jogging between them.'],
    ],
  },
  {
    title: 'Write a polite reminder email',
    tags: { model: 'trackbot-small', tone: 'friendly' },
    turns: [['A client has not paid an invoice that was due two weeks ago. Draft a short reminder.', 'Subject: Invoice 1042, a friendly reminder\n\nHi Sam,\n\nI hope all is well. A quick note that invoice 1042 was due on the 3rd. Could you let me know when we can expect payment?\n\nThanks,\nAlex']],
  },
]

function conversationFrom (topic: Topic, turns: number, system: boolean): NewConversation {
  const messages: NonNullable<NewConversation['messages']> = []
  if (system) messages.push({ role: 'system', content: 'You are Trackbot, a concise and friendly assistant.' })
  for (const [question, answer] of topic.turns.slice(0, turns)) {
    messages.push({ role: 'user', content: question }, { role: 'assistant', content: answer })
  }
  return { title: topic.title, metadata: topic.tags, messages }
}

function positiveInteger (name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || number > max) throw new ConfigError(`--${name} must be an integer from 1 to ${max}, got "${value}"`)
  return number
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { users: { type: 'string' }, conversations: { type: 'string' }, seed: { type: 'string' } } })
  const users = positiveInteger('users', values.users, 12, 100_000)
  const perUser = positiveInteger('conversations', values.conversations, 6, 1000)
  const next = mulberry32(positiveInteger('seed', values.seed, 1, 2 ** 31))
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!

  const { databaseUrl } = loadConfig()
  const database = await openDatabase(databaseUrl, { info: () => {}, warn: console.warn })
  const repositories = createRepositories(database.prisma, database.provider, storeLimits(), { fullLists: fullListsOn(database) }).v2
  let conversations = 0
  let messages = 0
  try {
    for (let i = 0; i < users; i++) {
      const first = pick(FIRST_NAMES)
      const last = pick(LAST_NAMES)
      // No emails: they are unique, and seeding twice should add more demo users, not fail.
      const user = await repositories.users.create({ name: `${first} ${last}` })
      if (user === null) throw new Error('could not create a demo user')
      const count = 1 + Math.floor(next() * perUser)
      for (let c = 0; c < count; c++) {
        const topic = pick(TOPICS)
        const created = await repositories.conversations.create(user.id, conversationFrom(topic, 1 + Math.floor(next() * topic.turns.length), next() < 0.5))
        if (created === null || created === EXPIRY_PASSED || created instanceof UnknownToolCall) throw new Error(`user ${user.id} vanished while seeding`)
        conversations++
        messages += created.messages.length
      }
    }
  } finally {
    await database.close()
  }
  console.log(`Seeded ${users} users, ${conversations} conversations and ${messages} messages.`)
}

main().catch((error: unknown) => {
  console.error(`db:seed: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error)}`)
  process.exitCode = 1
})
