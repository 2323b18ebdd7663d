// PgBouncer's parameter is ours to read and pg's never to see; the rest of the URL goes through untouched.
// stores: none
import t from 'tap'
import { postgresTarget } from '../../src/store/database-url.js'

t.test('?pgbouncer=true is read and taken out of the URL', async (t) => {
  t.same(postgresTarget('postgresql://a:b@pooler:6432/db?pgbouncer=true'), { connectionString: 'postgresql://a:b@pooler:6432/db', pgbouncer: true })
  t.same(postgresTarget('postgresql://a:b@pooler/db?sslmode=require&pgbouncer=true&options=-c%20x'),
    { connectionString: 'postgresql://a:b@pooler/db?sslmode=require&options=-c%20x', pgbouncer: true })
  t.same(postgresTarget('postgresql://a:b@db/db?pgbouncer=false'), { connectionString: 'postgresql://a:b@db/db', pgbouncer: false })
  t.same(postgresTarget('postgresql://a:b@db/db?sslmode=require'), { connectionString: 'postgresql://a:b@db/db?sslmode=require', pgbouncer: false })
  t.same(postgresTarget('postgresql://a:b@db/db'), { connectionString: 'postgresql://a:b@db/db', pgbouncer: false })
})
