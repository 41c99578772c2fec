/**
 * A core/v1 Event about a pod, as client-go's event recorder writes it for Go Multus (source component `multus`,
 * name `<pod>.<unix nanoseconds in hex>`), so that `kubectl describe pod` and event tooling see the same thing.
 */
export interface PodEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  involvedObject: { kind: 'Pod'; namespace: string; name: string; uid: string; apiVersion: 'v1'; resourceVersion: string };
  reason: string;
  message: string;
  source: { component: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  type: 'Normal' | 'Warning';
  eventTime: null;
  reportingComponent: string;
  reportingInstance: string;
}

const COMPONENT = 'multus';

/** RFC 3339 with whole seconds, as metav1.Time marshals. */
function metaTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The pod an event is about (a Pod from api.ts fits). */
export interface EventSubject {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
}

export function podEvent(pod: EventSubject, type: PodEvent['type'], reason: string, message: string, nowMs = Date.now()): PodEvent {
  // The sub-millisecond digits from the monotonic clock keep two events of one millisecond apart.
  const nanos = BigInt(nowMs) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  const time = metaTime(nowMs);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${pod.name}.${nanos.toString(16)}`, namespace: pod.namespace },
    involvedObject: { kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid, apiVersion: 'v1', resourceVersion: pod.resourceVersion },
    reason,
    message,
    source: { component: COMPONENT },
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
    type,
    eventTime: null,
    reportingComponent: COMPONENT,
    reportingInstance: '',
  };
}
