// The README's "Works with" snippets are the tests' code: every code line of each snippet is a line
// of the test file that runs it (trailing comments aside), or is named by a `// README: <line>`
// comment there where the test parametrizes it. Comment-only lines are prose and not checked.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const root = join(__dirname, '..')
const files: Record<string, string> = {
  '@fastify/passport': 'works-with-passport.test.ts',
  '@fastify/flash': 'works-with-flash.test.ts',
  '@fastify/csrf-protection': 'works-with-csrf.test.ts',
  'All together': 'works-with-the-stack.test.ts'
}

function code (line: string): string {
  return line.replace(/\s+\/\/ .*$/, '').trim()
}

const readme = readFileSync(join(root, 'README.md'), 'utf8')
const start = readme.indexOf('\n## Works with\n')
const end = readme.indexOf('\n## ', start + 1)
const section = readme.slice(start, end)

t.ok(start >= 0, 'the README has a Works with section')

const headings = [...section.matchAll(/^### (.+)$/gm)]
t.same(headings.map((m) => m[1]), Object.keys(files), 'one subsection per tested package, and the stack')

for (const [i, heading] of headings.entries()) {
  const body = section.slice(heading.index, headings[i + 1]?.index ?? section.length)
  const file = files[heading[1]]
  t.test(`${heading[1]}: its snippets are the code of test/${file}`, async (t) => {
    const source = readFileSync(join(__dirname, file), 'utf8')
    const lines = new Set<string>()
    for (const line of source.split('\n')) {
      lines.add(code(line))
      const named = /\/\/ README: (.*)$/.exec(line)
      if (named !== null) lines.add(named[1].trim())
    }
    const blocks = [...body.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    t.ok(blocks.length > 0, 'a snippet')
    for (const block of blocks) {
      for (const line of block.split('\n')) {
        const c = code(line)
        if (c === '' || c.startsWith('//')) continue
        t.ok(lines.has(c), c)
      }
    }
  })
}
