// Names for the API's types, all taken from the generated schema (see
// openapi.json and `npm run gen`): the Console declares none of its own.
import type { components, paths } from './schema';

type JSONBody<R> = R extends { content: { 'application/json': infer T } } ? T : never;
/** The JSON answer of a GET. */
export type GetOf<P extends keyof paths> = paths[P] extends { get: { responses: { 200: infer R } } } ? JSONBody<R> : never;
/** The JSON body of a POST. */
export type PostIn<P extends keyof paths> = paths[P] extends {
  post: { requestBody?: { content: { 'application/json': infer T } } };
}
  ? T
  : never;

export type Me = GetOf<'/api/v1/auth/me'>;
export type Role = 'viewer' | 'operator' | 'admin' | 'owner';
export type Agent = GetOf<'/api/v1/agents/{id}'>;
export type AgentInput = PostIn<'/api/v1/agents'>;
export type ScriptStep = NonNullable<Agent['script']>[number];
export type Campaign = GetOf<'/api/v1/campaigns/{id}'>;
export type CampaignInput = PostIn<'/api/v1/campaigns'>;
export type Contact = GetOf<'/api/v1/campaigns/{id}/contacts'>['items'][number];
export type UploadResult = paths['/api/v1/campaigns/{id}/contacts']['post']['responses'][200]['content']['application/json'];
export type CallDetail = GetOf<'/api/v1/calls/{call_id}'>;
export type Call = GetOf<'/api/v1/calls'>['items'][number];
export type Fleet = GetOf<'/api/v1/fleets/{id}'>;
export type Capacity = components['schemas']['FleetEvent']['data'];
export type Worker = Capacity['workers'][number];
export type Rollout = NonNullable<Capacity['rollout']>;
export type DNCEntry = GetOf<'/api/v1/do-not-call'>['items'][number];
export type PhoneNumber = GetOf<'/api/v1/phone-numbers'>['items'][number];
export type User = GetOf<'/api/v1/users'>['items'][number];
export type APIKey = GetOf<'/api/v1/api-keys'>['items'][number];
export type NewAPIKey = paths['/api/v1/api-keys']['post']['responses'][201]['content']['application/json'];
export type TokenPair = paths['/api/v1/auth/login']['post']['responses'][200]['content']['application/json'];
export type StreamTicket = paths['/api/v1/events/ticket']['post']['responses'][200]['content']['application/json'];
export type AppEvent = components['schemas']['Event'];
export type StreamEnd = components['schemas']['StreamEnd'];
