// A budget of body bytes (the block streams', or binary request bodies'): a take that does not fit
// waits and is woken when bytes come back; one that holds nothing else may always take one body, so none
// starves; a request that waits and is abandoned stops waiting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { BodyBudget } from './body-budget.js';

test('a take that does not fit is refused and woken once bytes come back; one that must go through does', () => {
  const budget = new BodyBudget(100);
  let woken = 0;
  const wake = () => void woken++;
  assert.equal(budget.take(60, false, wake), true);
  assert.equal(budget.take(60, false, wake), false, 'past the limit');
  assert.equal(woken, 0);
  assert.equal(budget.take(60, true), true, 'one holding nothing else takes its body anyway');
  assert.equal(budget.used, 120);
  budget.give(60);
  assert.equal(woken, 1, 'the waiting one is woken');
  budget.give(10);
  assert.equal(woken, 1, 'once');
  assert.equal(budget.take(40, false, wake), true);
  assert.equal(budget.used, 90);
  budget.forget(wake);
  assert.equal(budget.take(40, false, wake), false);
  budget.forget(wake);
  budget.give(90);
  assert.equal(woken, 1, 'one that stopped waiting is not woken');
});

test('acquire waits for room, and gives up when what waits is abandoned', async () => {
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
