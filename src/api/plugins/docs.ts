import swagger, { type SwaggerTransformObject } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import '../openapi/components.js'; // registers the shared schemas before the document is built

/**
 * The registered schemas as `components.schemas`. The type provider emits each one twice, as
 * output (`Goods`) and as input (`GoodsInput`); every registered schema here is a response, so
 * the input copies nobody refers to are left out.
 */
const componentsOfResponses: SwaggerTransformObject = (document) => {
  const openapi = jsonSchemaTransformObject(document) as { components?: { schemas?: Record<string, unknown> } };
  const schemas = openapi.components?.schemas ?? {};
  const text = JSON.stringify({ ...openapi, components: { ...openapi.components, schemas: {} } });
  for (const id of Object.keys(schemas)) {
    if (id.endsWith('Input') && id.slice(0, -'Input'.length) in schemas && !text.includes(`"#/components/schemas/${id}"`)) delete schemas[id];
  }
  return openapi as ReturnType<SwaggerTransformObject>;
};

/** OpenAPI 3.1 document generated from the route schemas; UI at /docs, JSON at /docs/json. */
export const docs = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'seckill-timeout',
        description: [
          'Flash-sale orders that close themselves (WeChat Pay v2, BullMQ, RabbitMQ). Money in fen; ids are decimal strings; times ISO-8601.',
          'Errors are `{code, message, fields?}`: each response lists the codes it can carry; `code` is stable, `message` is for people.',
        ].join('\n\n'),
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 with JWT_SECRET; the buyer is the `sub` claim' },
          basic: { type: 'http', scheme: 'basic', description: 'ADMIN_USER:ADMIN_PASSWORD' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: componentsOfResponses,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
