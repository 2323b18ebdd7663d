// Two stateless server processes on one PostgreSQL database, as behind a load balancer: concurrent
// writes through both, then every acknowledged write is visible, the same, through either.
// stores: postgres
import t from 'tap'
import { testDatabaseUrl } from '../helper.js'
import { checkLoad, runLoad, startInstance } from '../multi-instance.js'

t.test('two instances on one database serve one consistent store', async (t) => {
  // Empty: the two instances starting together migrate it between them.
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const instances = await Promise.all([startInstance(t, databaseUrl), startInstance(t, databaseUrl)])
  await checkLoad(t, await runLoad(instances), instances, databaseUrl)
})
