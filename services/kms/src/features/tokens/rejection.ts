// Why a token was not accepted, in OAuth's words (RFC 6749 §5.2, RFC 8693 §2.2.2). The exchange
// answers a rejection as a `token-exchange-refused` problem with the code in `error`; a delegated
// request answers it as `unauthenticated`. Messages are fixed sentences: they never repeat any
// part of a token.

import { Problem } from '../../http/problems.js';

export type OAuthError = 'invalid_request' | 'invalid_grant' | 'invalid_scope' | 'unsupported_grant_type';

export class TokenRejected extends Error {
  constructor(
    readonly error: OAuthError,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejected';
  }
}

export function rejected(error: OAuthError, message: string): never {
  throw new TokenRejected(error, message);
}

/** The problem a token endpoint answers with. */
export function exchangeRefused(e: TokenRejected): Problem {
  return new Problem('token-exchange-refused', e.message, { error: e.error });
}
