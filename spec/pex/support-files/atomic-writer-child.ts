// Child process for the crash test: rewrites the file atomically, forever, alternating two large contents,
// until it is killed. Prints "ready" after the first write.
import { writeFileAtomic } from '../../../lib/pex/addr-book-file.js'

const [path, a, b] = process.argv.slice(2) as [string, string, string]
const contents = [Buffer.alloc(2 * 1024 * 1024, a), Buffer.alloc(2 * 1024 * 1024, b)]
let n = 0
for (;;) {
  await writeFileAtomic(path, contents[n % 2]!)
  if (n === 0) process.stdout.write('ready\n')
  n++
}
