import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** What one request may ask of the server before any resolver runs. */
export interface AbuseLimits {
  /** Deepest field nesting; our deepest real query (projects → tasks → comments → author) is 7. @default 10 */
  maxDepth: number;
  /** Aliased fields in one operation; our operations use at most 2. @default 15 */
  maxAliases: number;
  /** Directives in one operation; ours use none, clients add a few `@include`/`@skip`. @default 20 */
  maxDirectives: number;
  /** Lexical tokens of the document, counted while parsing; ours need at most 58. @default 1000 */
  maxTokens: number;
  /**
   * Values a response may hold, counting a list at its literal `first` (1 value per field,
   * multiplied down the lists). The tests' read-everything query (100 projects × 100 tasks × 100
   * comments) needs 6.1 million; the load mix's nested read 2,550. @default 10_000_000
   */
  maxCost: number;
  /** Bytes of a request body; refused with 413 before more is read. @default 102_400 */
  maxRequestBodyBytes: number;
  /**
   * Answer introspection queries. When off, validation errors stop suggesting field names ("Did
   * you mean …") too, since those would give the schema away all the same. @default true
   */
  introspection: boolean;
}

export const DEFAULT_ABUSE_LIMITS: Readonly<AbuseLimits> = Object.freeze({
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 20,
  maxTokens: 1_000,
  maxCost: 10_000_000,
  maxRequestBodyBytes: 102_400,
  introspection: true,
});

/**
 * A limit was exceeded: the client's query is at fault (400), and the code says which kind of
 * fault. graphql-armor words its messages "Syntax Error: …" whatever the limit; the prefix goes.
 */
function tooComplex(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } },
  });
}

/**
 * graphql-armor's depth, alias, directive, token and cost limits, and, when introspection is off,
 * the introspection block and the suppression of field suggestions. Limits are checked while
 * parsing and validating, so a refused query never reaches context building (tenant lookup) or SQL.
 */
export function useAbuseLimits(limits: AbuseLimits): Plugin {
  const onReject = [
    (context: ValidationContext | null, error: GraphQLError) => {
      // The token limit runs inside the parser, where there is no validation context to report to.
      if (!context) throw tooComplex(error);
      context.reportError(tooComplex(error));
    },
  ];
  const reporting = { propagateOnRejection: false, onReject };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        EnvelopArmorPlugin({
          maxDepth: { n: limits.maxDepth, ...reporting },
          maxAliases: { n: limits.maxAliases, ...reporting },
          maxDirectives: { n: limits.maxDirectives, ...reporting },
          maxTokens: { n: limits.maxTokens, ...reporting },
          costLimit: { maxCost: limits.maxCost, objectCost: 1, scalarCost: 1, depthCostFactor: 1, ...reporting },
          blockFieldSuggestion: { enabled: !limits.introspection },
        }),
      );
    },
    // graphql-js's own rule, which @graphql-yoga/plugin-disable-introspection wraps in a per-request switch we do not need.
    onValidate({ addValidationRule }) {
      if (!limits.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
