// Our production server, dist/src/server.js, unchanged: importing it runs it. It is started through this
// file so that its command line does not name dist/src/server.js: on a shared machine a
// `pkill -f dist/src/server.js` meant for someone else's server stopped the benchmark's one mid-run.
import '../../src/server.js'
