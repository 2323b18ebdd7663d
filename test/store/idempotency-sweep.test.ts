// The sweep of expired Idempotency-Keys walks the keys in id order, a batch at a time: every expired key goes,
// across batch boundaries, and a key not yet expired among them (stored by an instance whose clock ran ahead)
// is stepped over, not taken as the end.
import t from 'tap'
import { openDatabase } from '../../src/store/database.js'
import { createIdempotencyKeyStore } from '../../src/store/idempotency-keys.js'
import { runSql, testDatabaseUrl } from '../helper.js'

t.test('the sweep deletes every expired key and only those', async (t) => {
  const url = await testDatabaseUrl(t)
  const database = await openDatabase(url, { info: () => {}, warn: () => {} })
  t.teardown(() => database.close())
  const now = Date.now()
  const cutoff = new Date(now - 3600_000)
  // More keys than one batch deletes; every hundredth written with a clock an hour ahead; then ten fresh keys.
  const old = Array.from({ length: 1_200 }, (_, i) => new Date(i % 100 === 50 ? now + 3600_000 : now - 2 * 3600_000 + i))
  const fresh = Array.from({ length: 10 }, () => new Date(now))
  await database.prisma.idempotencyKey.createMany({
    data: [...old, ...fresh].map((createdAt, i) => ({ operation: 'create_user', key: `key-${i}`, fingerprint: 'f', rows: '[]', createdAt })),
  })
  const keys = createIdempotencyKeyStore(database.prisma)

  t.equal(await keys.sweep(cutoff), 1_188, 'every expired key')
  const left = await runSql(url, 'SELECT "key" FROM "IdempotencyKey" ORDER BY id') as Array<{ key: string }>
  const kept = [...old, ...fresh].flatMap((createdAt, i) => createdAt >= cutoff ? [`key-${i}`] : [])
  t.same(left.map(({ key }) => key), kept, 'the keys not yet expired, the clock-skewed ones among them')
  t.equal(await keys.sweep(cutoff), 0, 'nothing left to sweep')
})
