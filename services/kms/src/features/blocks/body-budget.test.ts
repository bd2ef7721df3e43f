// The budget all block streams share: a take that does not fit waits and is woken when bytes come
// back; a stream holding nothing may always take one frame, so none starves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyBudget } from './body-budget.js';

test('a take that does not fit is refused and woken once bytes come back; one that must go through does', () => {
  const budget = new BodyBudget(100);
  let woken = 0;
  const wake = () => void woken++;
  assert.equal(budget.take(60, false, wake), true);
  assert.equal(budget.take(60, false, wake), false, 'past the limit');
  assert.equal(woken, 0);
  assert.equal(budget.take(60, true, () => undefined), true, 'a stream holding nothing takes its frame anyway');
  assert.equal(budget.used, 120);
  budget.give(60);
  assert.equal(woken, 1, 'the waiting stream is woken');
  budget.give(10);
  assert.equal(woken, 1, 'once');
  assert.equal(budget.take(40, false, wake), true);
  assert.equal(budget.used, 90);
});

test('a stream that closes is no longer woken', () => {
  const budget = new BodyBudget(10);
  let woken = 0;
  const wake = () => void woken++;
  budget.take(10, true, () => undefined);
  assert.equal(budget.take(5, false, wake), false);
  budget.forget(wake);
  budget.give(10);
  assert.equal(woken, 0);
});
