// The command descriptor: one value per TPM 2.0 command, used by the engine to unmarshal,
// authorize and execute it, and by the typed client to marshal the same command. A command
// file holds only its descriptor; the pipeline in exec-command.ts does everything around it.

import { struct, type Codec, type StructOf } from '../wire/codec.js';
import type { Tpm } from './tpm.js';

/** Part 3 "Authorization Role" of a handle: which authorization the handle's session must give. */
export type AuthRole = 'USER' | 'ADMIN' | 'DUP';

export interface HandleSpec {
  /** The TPMI_ type whose unmarshal checks the handle's range (bad → TPM_RC_HANDLE/VALUE). */
  codec: Codec<number>;
  /** Present when the handle needs an authorization session. */
  auth?: AuthRole;
}

type HandleSpecs = Record<string, HandleSpec>;
type ParamFields = Record<string, Codec<any>>;

export type HandlesOf<H extends HandleSpecs> = { [K in keyof H]: number };

/** What a command's execute() sees besides its handles and parameters. */
export interface CommandContext {
  locality: number;
  /** Command code, for policies that check it. */
  commandCode: number;
}

export interface CommandDescriptor<
  H extends HandleSpecs = HandleSpecs,
  P extends ParamFields = ParamFields,
  RH extends HandleSpecs = HandleSpecs,
  R extends ParamFields = ParamFields,
> {
  readonly name: string;
  readonly code: number;
  readonly handles: H;
  readonly params: Codec<StructOf<P>>;
  /** The parameters field by field, in wire order, so a bad one is named by its number. */
  readonly paramFields: ReadonlyArray<readonly [string, Codec<unknown>]>;
  readonly responseFields: ReadonlyArray<readonly [string, Codec<unknown>]>;
  readonly responseHandles: RH;
  readonly response: Codec<StructOf<R>>;
  /** Names of the handles, in wire order. */
  readonly handleNames: ReadonlyArray<keyof H & string>;
  readonly responseHandleNames: ReadonlyArray<keyof RH & string>;
  /** True when the first parameter is a TPM2B, i.e. may be encrypted by a session. */
  readonly encryptsFirstParam: boolean;
  readonly decryptsFirstResponseParam: boolean;
  /** True for commands the TPM accepts before Startup (only Startup itself). */
  readonly beforeStartup: boolean;
  execute(
    tpm: Tpm,
    handles: HandlesOf<H>,
    params: StructOf<P>,
    ctx: CommandContext,
  ): StructOf<R> & { [K in keyof RH]: number };
}

export type AnyCommand = CommandDescriptor<any, any, any, any>;
export type ParamsOf<C> = C extends CommandDescriptor<any, infer P, any, any> ? StructOf<P> : never;
export type ResponseOf<C> = C extends CommandDescriptor<any, any, infer RH, infer R> ? StructOf<R> & HandlesOf<RH> : never;
export type CommandHandlesOf<C> = C extends CommandDescriptor<infer H, any, any, any> ? HandlesOf<H> : never;

function firstIsTpm2b(fields: ParamFields): boolean {
  const first = Object.values(fields)[0] as Codec<unknown> | undefined;
  return !!first && typeof first.name === 'string' && first.name.startsWith('TPM2B_');
}

/** Declare a command. `params` and `response` are field lists in wire order. */
export function defineCommand<
  H extends HandleSpecs = {},
  P extends ParamFields = {},
  RH extends HandleSpecs = {},
  R extends ParamFields = {},
>(spec: {
  name: string;
  code: number;
  handles?: H;
  params?: P;
  responseHandles?: RH;
  response?: R;
  beforeStartup?: boolean;
  execute: NoInfer<CommandDescriptor<H, P, RH, R>['execute']>;
}): CommandDescriptor<H, P, RH, R> {
  const handles = (spec.handles ?? {}) as H;
  const responseHandles = (spec.responseHandles ?? {}) as RH;
  const params = (spec.params ?? {}) as P;
  const response = (spec.response ?? {}) as R;
  return Object.freeze({
    name: spec.name,
    code: spec.code,
    handles,
    params: struct(`${spec.name}_In`, params),
    paramFields: Object.entries(params) as Array<[string, Codec<unknown>]>,
    responseFields: Object.entries(response) as Array<[string, Codec<unknown>]>,
    responseHandles,
    response: struct(`${spec.name}_Out`, response),
    handleNames: Object.keys(handles),
    responseHandleNames: Object.keys(responseHandles),
    encryptsFirstParam: firstIsTpm2b(params),
    decryptsFirstResponseParam: firstIsTpm2b(response),
    beforeStartup: spec.beforeStartup ?? false,
    execute: spec.execute,
  });
}

/** Thrown by a command (or the pipeline) to answer with a response code. */
export class TpmFault extends Error {
  constructor(readonly rc: number, message?: string) {
    super(message ?? `TPM_RC 0x${rc.toString(16)}`);
    this.name = 'TpmFault';
  }
}

/** Answer with `rc` (already complete, or a format-one base to which the pipeline adds nothing). */
export function fail(rc: number, message?: string): never {
  throw new TpmFault(rc, message);
}
