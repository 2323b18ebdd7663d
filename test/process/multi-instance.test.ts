// Two stateless server processes on one PostgreSQL database, as behind a load balancer: concurrent
// writes through both, then every acknowledged write is visible, the same, through either.
import t from 'tap'
import { createDatabase, store } from '../helper.js'
import { checkLoad, runLoad, startInstance } from '../multi-instance.js'
import { stop } from '../server-process.js'

if (store !== 'postgres') {
  t.pass('runs on the PostgreSQL pass: several instances share one PostgreSQL database')
} else {
  t.test('two instances on one database serve one consistent store', async (t) => {
    const database = await createDatabase(t, 'postgres')
    t.teardown(database.drop)
    const instances = await Promise.all([startInstance(database.url), startInstance(database.url)])
    t.teardown(() => Promise.all(instances.map((instance) => stop(instance.child))))
    const origins = instances.map((instance) => instance.origin)
    await checkLoad(t, await runLoad(origins), origins, database.url)
  })
}
