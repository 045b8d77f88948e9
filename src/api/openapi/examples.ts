/**
 * Named request examples for the OpenAPI document (@fastify/swagger's `x-examples`, shown in
 * Swagger UI's example picker). Not JSON Schema `examples`: zod drops those from the input side
 * of a schema that transforms its input (the grab's goodsId), and a name says what each shows.
 */
export function requestExamples(examples: Record<string, unknown>): { 'x-examples': Record<string, { value: unknown }> } {
  return { 'x-examples': Object.fromEntries(Object.entries(examples).map(([name, value]) => [name, { value }])) };
}
