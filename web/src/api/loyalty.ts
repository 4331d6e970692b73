import { type InfiniteData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  AdjustmentRequest,
  InviteCode,
  MemberLookup,
  Referral,
} from '../../../src/modules/loyalty/loyalty.referrals.schemas.ts';
import type {
  Club,
  ClubCreate,
  ClubUpdate,
  CouponCheck,
  CouponRedeem,
  CouponUse,
  CouponValidity,
  MemberClub,
  RedeemRequest,
  Redemption,
  RedemptionCancel,
  RedemptionCancelled,
  RedemptionRow,
  Reward,
  RewardCreate,
  RewardUpdate,
} from '../../../src/modules/loyalty/loyalty.rewards.schemas.ts';
import type {
  AdjustmentCreate,
  Cap,
  Card,
  CardIssue,
  CardRangeCreate,
  Formula,
  LedgerEntry,
  Member,
  Programme,
  ProgrammeCreate,
  ProgrammeUpdate,
  PurchaseCreate,
  TransactionResult,
} from '../../../src/modules/loyalty/loyalty.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { ApiError, api, type Page } from './client.ts';

// The earn-rule shapes live next to the server's evaluation (loyalty.rules.ts), which the console may not import:
// they are restated here as the API sends and takes them.

/** A field of the earn rules' condition catalogue (GET /loyalty/rule-fields). */
export interface RuleField {
  name: string;
  type: 'number' | 'string' | 'boolean' | 'time' | 'tags';
  label: { en: string; ru: string };
  operators: string[];
  values?: string[];
}

export interface ConditionLeaf {
  field: string;
  op: string;
  value?: unknown;
}
export type ConditionNode =
  | { all: ConditionNode[] }
  | { any: ConditionNode[] }
  | { not: ConditionNode }
  | ConditionLeaf;

export type RuleStatus = 'active' | 'draft' | 'archived';

export interface RuleInput {
  name: string;
  status: RuleStatus;
  trigger: 'purchase' | 'event';
  eventName?: string;
  scope: 'transaction' | 'line';
  condition?: ConditionNode;
  formula: Formula;
  wallet: string;
  priority: number;
  stopAfter: boolean;
  caps: Cap[];
  startsAt?: string;
  endsAt?: string;
}

export interface Rule extends Omit<RuleInput, 'eventName' | 'condition' | 'startsAt' | 'endsAt'> {
  id: string;
  eventName: string | null;
  condition: ConditionNode | null;
  startsAt: string | null;
  endsAt: string | null;
}

export interface SimulationResult {
  from: string;
  to: string;
  scanned: number;
  truncated: boolean;
  matched: number;
  points: number;
  members: number;
  sample: { transactionId: string; occurredAt: string; memberId: string; points: number }[];
}

export interface CardRange {
  id: string;
  kind: 'physical' | 'virtual';
  prefix: string;
  length: number;
  firstSerial: number;
  lastSerial: number;
  nextSerial: number;
}

export interface CardLookup {
  card: Card;
  member: Member;
}

const loyaltyKeys = {
  all: (workspaceId: string) => ['ws', workspaceId, 'loyalty'] as const,
  programmes: (workspaceId: string) => ['ws', workspaceId, 'loyalty', 'programmes'] as const,
  fields: (workspaceId: string) => ['ws', workspaceId, 'loyalty', 'fields'] as const,
  rules: (workspaceId: string, programme: string) => ['ws', workspaceId, 'loyalty', programme, 'rules'] as const,
  ranges: (workspaceId: string, programme: string) => ['ws', workspaceId, 'loyalty', programme, 'ranges'] as const,
  card: (workspaceId: string, number: string) => ['ws', workspaceId, 'loyalty', 'card', number] as const,
  member: (workspaceId: string, programme: string, profileId: string) =>
    ['ws', workspaceId, 'loyalty', programme, 'member', profileId] as const,
  ledger: (workspaceId: string, programme: string, profileId: string) =>
    ['ws', workspaceId, 'loyalty', programme, 'ledger', profileId] as const,
};

const programmePath = (key: string) => `/api/v1/loyalty/programmes/${encodeURIComponent(key)}`;
const cardPath = (number: string) => `/api/v1/loyalty/cards/${encodeURIComponent(number)}`;

/** A fresh idempotency key: one per thing the user means to do once, reused if that same request is retried. */
export function newIdempotencyKey(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

function useInvalidateLoyalty() {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return () => void queryClient.invalidateQueries({ queryKey: loyaltyKeys.all(workspaceId) });
}

export function useProgrammes() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: Programme[] }, ApiError>({
    queryKey: loyaltyKeys.programmes(workspaceId),
    queryFn: () => api<{ items: Programme[] }>('/api/v1/loyalty/programmes'),
  });
}

export function useCreateProgramme() {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Programme, ApiError, ProgrammeCreate>({
    mutationFn: (body) => api<Programme>('/api/v1/loyalty/programmes', { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

export function useUpdateProgramme(key: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Programme, ApiError, ProgrammeUpdate>({
    mutationFn: (body) => api<Programme>(programmePath(key), { method: 'PATCH', body }),
    onSuccess: invalidate,
  });
}

export function useRuleFields() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ fields: RuleField[] }, ApiError>({
    queryKey: loyaltyKeys.fields(workspaceId),
    queryFn: () => api<{ fields: RuleField[] }>('/api/v1/loyalty/rule-fields'),
    staleTime: 10 * 60_000,
  });
}

export function useRules(programme: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: Rule[] }, ApiError>({
    queryKey: loyaltyKeys.rules(workspaceId, programme),
    queryFn: () => api<{ items: Rule[] }>(`${programmePath(programme)}/rules`),
  });
}

/** Adds a rule, or replaces rule `id` (rules are never deleted: archive one with status "archived"). */
export function useSaveRule(programme: string, id: string | null) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Rule, ApiError, RuleInput>({
    mutationFn: (body) =>
      id
        ? api<Rule>(`${programmePath(programme)}/rules/${encodeURIComponent(id)}`, { method: 'PUT', body })
        : api<Rule>(`${programmePath(programme)}/rules`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

export function useSimulateRule(programme: string) {
  return useMutation<SimulationResult, ApiError, { rule: RuleInput; from?: string; to?: string }>({
    mutationFn: (body) => api<SimulationResult>(`${programmePath(programme)}/rules/simulate`, { method: 'POST', body }),
  });
}

export function useCardRanges(programme: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: CardRange[] }, ApiError>({
    queryKey: loyaltyKeys.ranges(workspaceId, programme),
    queryFn: () => api<{ items: CardRange[] }>(`${programmePath(programme)}/card-ranges`),
  });
}

export function useCreateCardRange(programme: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<CardRange, ApiError, CardRangeCreate>({
    mutationFn: (body) => api<CardRange>(`${programmePath(programme)}/card-ranges`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

/** The till's lookup: a card, its member, balances by wallet and lots. Not found is an answer, not a retry. */
export function useCardLookup(number: string | null) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<CardLookup, ApiError>({
    queryKey: loyaltyKeys.card(workspaceId, number ?? ''),
    queryFn: () => api<CardLookup>(cardPath(number ?? '')),
    enabled: Boolean(number),
    staleTime: 0,
  });
}

/** A profile's membership of a programme; `null` when the person is not a member (404 MEMBER_NOT_FOUND). */
export function useMember(programme: string, profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<Member | null, ApiError>({
    queryKey: loyaltyKeys.member(workspaceId, programme, profileId),
    queryFn: async () => {
      try {
        return await api<Member>(`${programmePath(programme)}/members/${encodeURIComponent(profileId)}`);
      } catch (error) {
        if (error instanceof ApiError && error.code === 'MEMBER_NOT_FOUND') return null;
        throw error;
      }
    },
    staleTime: 0,
  });
}

export function useLedger(programme: string, profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  const result = useInfiniteQuery<
    Page<LedgerEntry>,
    ApiError,
    InfiniteData<Page<LedgerEntry>>,
    readonly unknown[],
    string | null
  >({
    queryKey: loyaltyKeys.ledger(workspaceId, programme, profileId),
    initialPageParam: null,
    queryFn: ({ pageParam }) =>
      api<Page<LedgerEntry>>(`${programmePath(programme)}/members/${encodeURIComponent(profileId)}/ledger`, {
        query: { limit: 50, cursor: pageParam },
      }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

export function useIssueCard(programme: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Card, ApiError, CardIssue>({
    mutationFn: (body) => api<Card>(`${programmePath(programme)}/cards`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

export type CardAction =
  | { action: 'block'; number: string; reason: string }
  | { action: 'unblock'; number: string }
  | { action: 'replace'; number: string; reason: string; newNumber?: string };

export function useCardAction() {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Card, ApiError, CardAction>({
    mutationFn: (input) => {
      const path = `${cardPath(input.number)}/${input.action}`;
      if (input.action === 'block') return api<Card>(path, { method: 'POST', body: { reason: input.reason } });
      if (input.action === 'unblock') return api<Card>(path, { method: 'POST', body: {} });
      return api<Card>(path, {
        method: 'POST',
        body: { reason: input.reason, ...(input.newNumber ? { number: input.newNumber } : {}) },
      });
    },
    onSuccess: invalidate,
  });
}

/** Registers a purchase at the till; the body carries its idempotency key, so a retried submit adds nothing. */
export function useRegisterPurchase(programme: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<TransactionResult, ApiError, PurchaseCreate>({
    mutationFn: (body) => api<TransactionResult>(`${programmePath(programme)}/purchases`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

export function useAdjustPoints(programme: string) {
  const invalidate = useInvalidateLoyalty();
  // Above the programme's approval threshold the answer is a pending request (202), not a transaction.
  return useMutation<TransactionResult | AdjustmentRequest, ApiError, AdjustmentCreate>({
    mutationFn: (body) =>
      api<TransactionResult | AdjustmentRequest>(`${programmePath(programme)}/adjustments`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

// ---- referrals, approvals of large adjustments, member lookup (loyalty.referrals.schemas.ts)

const referralKeys = {
  invite: (workspaceId: string, programme: string, profileId: string) =>
    ['ws', workspaceId, 'loyalty', programme, 'invite', profileId] as const,
  referrals: (workspaceId: string, programme: string, filter: ReferralFilter) =>
    ['ws', workspaceId, 'loyalty', programme, 'referrals', filter] as const,
  requests: (workspaceId: string, status: AdjustmentRequest['status']) =>
    ['ws', workspaceId, 'loyalty', 'adjustment-requests', status] as const,
  memberships: (workspaceId: string, profileId: string) =>
    ['ws', workspaceId, 'loyalty', 'memberships', profileId] as const,
};

export interface ReferralFilter {
  status?: Referral['status'];
  profileId?: string;
}

/** The member's invite code; `null` until one is made. */
export function useInviteCode(programme: string, profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<InviteCode | null, ApiError>({
    queryKey: referralKeys.invite(workspaceId, programme, profileId),
    queryFn: async () =>
      (await api<InviteCode | null>(`${programmePath(programme)}/members/${encodeURIComponent(profileId)}/referral`)) ??
      null,
  });
}

export function useCreateInviteCode(programme: string, profileId: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<InviteCode, ApiError, void>({
    mutationFn: () =>
      api<InviteCode>(`${programmePath(programme)}/members/${encodeURIComponent(profileId)}/referral`, {
        method: 'POST',
        body: {},
      }),
    onSuccess: invalidate,
  });
}

export function useReferrals(programme: string, filter: ReferralFilter) {
  const workspaceId = useCurrentWorkspaceId();
  const result = useInfiniteQuery<
    Page<Referral>,
    ApiError,
    InfiniteData<Page<Referral>>,
    readonly unknown[],
    string | null
  >({
    queryKey: referralKeys.referrals(workspaceId, programme, filter),
    initialPageParam: null,
    queryFn: ({ pageParam }) =>
      api<Page<Referral>>(`${programmePath(programme)}/referrals`, {
        query: { limit: 50, cursor: pageParam, status: filter.status, profileId: filter.profileId },
      }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

export function useReviewReferral(programme: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Referral, ApiError, { id: string; decision: 'approve' | 'reject'; reason?: string }>({
    mutationFn: ({ id, ...body }) =>
      api<Referral>(`${programmePath(programme)}/referrals/${encodeURIComponent(id)}/review`, {
        method: 'POST',
        body,
      }),
    onSuccess: invalidate,
  });
}

export function useAdjustmentRequests(status: AdjustmentRequest['status']) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<Page<AdjustmentRequest>, ApiError>({
    queryKey: referralKeys.requests(workspaceId, status),
    queryFn: () =>
      api<Page<AdjustmentRequest>>('/api/v1/loyalty/adjustment-requests', { query: { status, limit: 100 } }),
  });
}

export function useDecideAdjustment() {
  const invalidate = useInvalidateLoyalty();
  return useMutation<AdjustmentRequest, ApiError, { id: string; decision: 'approve' | 'reject'; reason?: string }>({
    mutationFn: ({ id, ...body }) =>
      api<AdjustmentRequest>(`/api/v1/loyalty/adjustment-requests/${encodeURIComponent(id)}/decision`, {
        method: 'POST',
        body,
      }),
    onSuccess: invalidate,
  });
}

/** The programmes a profile belongs to, with balances and tier (GET /loyalty/members?profileId=). */
export function useMemberships(profileId: string, enabled = true) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<MemberLookup, ApiError>({
    queryKey: referralKeys.memberships(workspaceId, profileId),
    queryFn: () => api<MemberLookup>('/api/v1/loyalty/members', { query: { profileId } }),
    enabled,
  });
}

// ---- rewards catalogue, redemptions, coupons at the till, clubs (loyalty.rewards.schemas.ts)

const rewardsKey = (workspaceId: string, programme: string, ...rest: string[]) =>
  ['ws', workspaceId, 'loyalty', programme, 'rewards', ...rest] as const;

export function useRewards(programme: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: Reward[]; nextCursor: string | null }, ApiError>({
    queryKey: rewardsKey(workspaceId, programme, 'list'),
    queryFn: () => api(`${programmePath(programme)}/rewards`, { query: { limit: 200 } }),
    staleTime: 0,
  });
}

/** Adds a reward, or changes reward `id`. */
export function useSaveReward(programme: string, id: string | null) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Reward, ApiError, RewardCreate | RewardUpdate>({
    mutationFn: (body) =>
      id
        ? api<Reward>(`${programmePath(programme)}/rewards/${encodeURIComponent(id)}`, { method: 'PATCH', body })
        : api<Reward>(`${programmePath(programme)}/rewards`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

/** Redeems a reward for a member with the customer's proof; the body carries its idempotency key. */
export function useRedeemReward(programme: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Redemption, ApiError, { rewardId: string; body: RedeemRequest }>({
    mutationFn: ({ rewardId, body }) =>
      api<Redemption>(`${programmePath(programme)}/rewards/${encodeURIComponent(rewardId)}/redeem`, {
        method: 'POST',
        body,
      }),
    onSuccess: invalidate,
  });
}

/** Cancels a redemption: points back, stock back, its coupon void (refused once the coupon is used). */
export function useCancelRedemption(programme: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<RedemptionCancelled, ApiError, { redemptionId: string; body: RedemptionCancel }>({
    mutationFn: ({ redemptionId, body }) =>
      api<RedemptionCancelled>(`${programmePath(programme)}/redemptions/${encodeURIComponent(redemptionId)}/cancel`, {
        method: 'POST',
        body,
      }),
    onSuccess: invalidate,
  });
}

export function useRedemptions(programme: string, profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: RedemptionRow[] }, ApiError>({
    queryKey: rewardsKey(workspaceId, programme, 'redemptions', profileId),
    queryFn: () => api(`${programmePath(programme)}/members/${encodeURIComponent(profileId)}/redemptions`),
    staleTime: 0,
  });
}

/** Sends a one-time code to the customer's phone (the proof for spending points). */
export function useSendVerification(programme: string) {
  return useMutation<{ verificationId: string; expiresAt: string; sentTo: string }, ApiError, { profileId: string }>({
    mutationFn: ({ profileId }) =>
      api(`${programmePath(programme)}/verifications`, { method: 'POST', body: { customer: { profileId } } }),
  });
}

export function useValidateCoupon() {
  return useMutation<CouponValidity, ApiError, CouponCheck>({
    mutationFn: (body) => api<CouponValidity>('/api/v1/loyalty/coupons/validate', { method: 'POST', body }),
  });
}

export function useRedeemCoupon() {
  return useMutation<CouponUse, ApiError, CouponRedeem>({
    mutationFn: (body) => api<CouponUse>('/api/v1/loyalty/coupons/redeem', { method: 'POST', body }),
  });
}

export function useReverseCouponUse() {
  return useMutation<CouponUse, ApiError, string>({
    mutationFn: (useId) =>
      api<CouponUse>(`/api/v1/loyalty/coupons/uses/${encodeURIComponent(useId)}/reverse`, { method: 'POST', body: {} }),
  });
}

export function useClubs(programme: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: Club[] }, ApiError>({
    queryKey: rewardsKey(workspaceId, programme, 'clubs'),
    queryFn: () => api(`${programmePath(programme)}/clubs`),
    staleTime: 0,
  });
}

/** The clubs a member belongs to, and joining or leaving one on their behalf (audited on the server). */
export function useMemberClubs(programme: string, profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ clubs: MemberClub[] }, ApiError>({
    queryKey: rewardsKey(workspaceId, programme, 'member-clubs', profileId),
    queryFn: () => api(`${programmePath(programme)}/members/${encodeURIComponent(profileId)}/clubs`),
    staleTime: 0,
  });
}

export function useJoinOrLeaveClub(programme: string, profileId: string) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<{ clubs: MemberClub[] }, ApiError, { clubId: string; action: 'join' | 'leave' }>({
    mutationFn: ({ clubId, action }) =>
      api(`${programmePath(programme)}/clubs/${encodeURIComponent(clubId)}/${action}`, {
        method: 'POST',
        body: { customer: { profileId } },
      }),
    onSuccess: invalidate,
  });
}

export function useSaveClub(programme: string, id: string | null) {
  const invalidate = useInvalidateLoyalty();
  return useMutation<Club, ApiError, ClubCreate | ClubUpdate>({
    mutationFn: (body) =>
      id
        ? api<Club>(`${programmePath(programme)}/clubs/${encodeURIComponent(id)}`, { method: 'PATCH', body })
        : api<Club>(`${programmePath(programme)}/clubs`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}
