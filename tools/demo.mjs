// `./tools/run demo` — until the demo apps land (issue 7) this says what the
// demo will show, so the README's first command already works.
console.log(`tok demo — coming with the demo apps:
  • the dev token server (real RS256 JWTs, JWKS, fault injection) on 127.0.0.1
  • the same page in Vue, Svelte and Angular: sign in/out, the live token and its
    claims, a countdown to expiry, templates, "refresh now", server request counts
  • a backend (demo-api) that verifies tokens and calls downstream with tok
Run ./tools/run test to see what already works.`)
