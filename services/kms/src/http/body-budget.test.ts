// A budget of body bytes (the block streams', or binary request bodies'): a take that does not fit
// waits in line and is granted its bytes when they come back, first come first served; one that
// holds nothing else may always take one body, so none starves; one that leaves the line gives
// back what it was granted; a request that waits and is abandoned stops waiting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { BodyBudget } from './body-budget.js';

test('a take that does not fit is refused; in line, it is granted its bytes once they come back; one that must go through does', () => {
  const budget = new BodyBudget(100);
  let granted = 0;
  assert.equal(budget.take(60, false), true);
  assert.equal(budget.take(60, false), false, 'past the limit');
  const ticket = budget.queue(60, () => void granted++);
  assert.equal(ticket.granted, false);
  assert.equal(budget.take(60, true), true, 'one holding nothing else takes its body anyway');
  assert.equal(budget.used, 120);
  budget.give(60);
  assert.equal(granted, 0, '60 held: the 60 in line does not fit yet');
  budget.give(60);
  assert.equal(granted, 1, 'granted once its bytes fit');
  assert.equal(ticket.granted, true);
  assert.equal(budget.used, 60, 'the bytes are held for it');
  budget.leave(ticket);
  assert.equal(budget.used, 0, 'a granted place that leaves gives its bytes back');
});

test('bytes that come back go to the line in order: later, smaller takers wait behind a large one', () => {
  const budget = new BodyBudget(100);
  const order: string[] = [];
  assert.equal(budget.take(90, false), true);
  const large = budget.queue(80, () => order.push('large'));
  assert.equal(budget.take(5, false), false, 'it would fit, but someone waits before it');
  const small = budget.queue(5, () => order.push('small'));
  const gone = budget.queue(5, () => order.push('gone'));
  budget.leave(gone);
  budget.give(50);
  assert.deepEqual(order, [], '40 held: the head (80) does not fit, and no one passes it');
  budget.give(40);
  assert.deepEqual(order, ['large', 'small'], 'the head first, then the next that fits');
  assert.equal(large.granted && small.granted, true);
  assert.equal(budget.used, 85);
  assert.equal(budget.take(20, false), false, 'past the limit');
  assert.equal(budget.take(10, false), true, 'no one waits and it fits');
});

test('a place larger than the whole budget is granted once nothing else is held', () => {
  const budget = new BodyBudget(100);
  assert.equal(budget.take(10, false), true);
  let granted = false;
  budget.queue(150, () => (granted = true));
  budget.give(10);
  assert.equal(granted, true);
  assert.equal(budget.used, 150);
});

test('acquire waits its turn for room, and gives up when what waits is abandoned', async () => {
  const budget = new BodyBudget(100);
  await budget.acquire(80, new EventEmitter()); // at once: nothing held
  let done = false;
  const waiting = budget.acquire(50, new EventEmitter()).then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(done, false);
  budget.give(80);
  await waiting;
  assert.equal(budget.used, 50);
  const request = new EventEmitter();
  const abandoned = budget.acquire(60, request);
  request.emit('close');
  await assert.rejects(abandoned);
  budget.give(50);
  assert.equal(budget.used, 0, 'the abandoned one took nothing');
});
