import { describe, expect, it } from "vitest"
import { parseTemplates, renderClaims } from "../src/templates.ts"

const context = { userId: "user_1", sessionId: "sess_1", organizationId: undefined }

describe("parseTemplates", () => {
  it("accepts lifetime, audience and JSON claims", () => {
    const templates = parseTemplates({
      a: { lifetime: 10, audience: "x", claims: { n: 1, list: [true, null, "{{user.id}}"] } },
      "b.c-d_e": {},
    })
    expect(templates.a).toEqual({
      lifetime: 10,
      audience: "x",
      claims: { n: 1, list: [true, null, "{{user.id}}"] },
    })
    expect(templates["b.c-d_e"]).toEqual({})
  })

  it.each([
    [[], /object of templates/],
    [{ "../x": {} }, /name/],
    [{ ".": {} }, /name/],
    [{ a: 1 }, /expected an object/],
    [{ a: { lifetime: 0 } }, /lifetime/],
    [{ a: { lifetime: 86_401 } }, /lifetime/],
    [{ a: { audience: 3 } }, /audience/],
    [{ a: { audience: [] } }, /audience/],
    [{ a: { claims: [] } }, /claims must be an object/],
    [{ a: { claims: { exp: 1 } } }, /"exp" is set by the server/],
    [{ a: { claims: { iss: "x" } } }, /"iss"/],
    [{ a: { audience: "x", claims: { aud: "y" } } }, /either/],
    [{ a: { claims: { x: "{{user.email}}" } } }, /unknown shortcode \{\{user.email\}\}/],
    [{ a: { ttl: 5 } }, /unknown field "ttl"/],
  ])("rejects %j", (input, message) => {
    expect(() => parseTemplates(input)).toThrow(message)
  })
})

describe("renderClaims", () => {
  it("fills shortcodes, also with spaces inside the braces", () => {
    expect(
      renderClaims(
        { a: "{{user.id}}", b: "{{ session.id }}", c: "u={{user.id}};o={{org.id}}" },
        { ...context, organizationId: "org_1" },
      ),
    ).toEqual({ a: "user_1", b: "sess_1", c: "u=user_1;o=org_1" })
  })

  it("leaves out a claim or element that is only a shortcode without a value", () => {
    expect(
      renderClaims(
        {
          org: "{{org.id}}",
          list: ["{{org.id}}", "x"],
          nested: { org: "{{org.id}}" },
          s: "o={{org.id}}",
        },
        context,
      ),
    ).toEqual({ list: ["x"], nested: {}, s: "o=" })
  })

  it("keeps other values as they are", () => {
    expect(renderClaims({ n: 1, b: false, z: null, deep: { list: [1, [2]] } }, context)).toEqual({
      n: 1,
      b: false,
      z: null,
      deep: { list: [1, [2]] },
    })
    expect(renderClaims(undefined, context)).toEqual({})
  })
})
