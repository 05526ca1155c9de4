// Sends events to Errhound with the real @sentry/node SDK. Usage: node send_events.js DSN SCENARIO
//
// Prints one line per captured event: "<scenario-tag> <event_id>". The end-to-end tests compare
// what the API shows with what this script sent. The SDK's own transport is used unchanged: auth
// in the query string, chunked bodies without Content-Type, gzip above 32 KiB.
"use strict";

const Sentry = require("@sentry/node");

const [dsn, scenario] = process.argv.slice(2);
if (!dsn || !scenario) {
  console.error("usage: node send_events.js DSN SCENARIO");
  process.exit(2);
}

Sentry.init({
  dsn,
  release: "storefront@2.0.1",
  environment: "production",
  sendDefaultPii: true,
});

function report(tag, eventId) {
  console.log(`${tag} ${eventId}`);
}

// Error sites. Each throws from its own line, so each is its own issue by default.
function chargeCard(orderId) {
  throw new Error(`card declined for order ${orderId}`);
}

function loadInventory(sku) {
  const stock = { "sku-1": 3 };
  return stock[sku].count;
}

function capture(tag, fn, ...args) {
  try {
    fn(...args);
  } catch (error) {
    report(tag, Sentry.captureException(error));
    return;
  }
  throw new Error(`${fn.name} did not throw`);
}

const scenarios = {
  // The same site three times (one issue), a second site once (a second issue).
  grouping() {
    for (const orderId of [101, 102, 103]) {
      capture("charge", chargeCard, orderId);
    }
    capture("inventory", loadInventory, "sku-2");
  },

  // Two messages that differ only in their numbers, from one call site: one issue. (The SDK
  // attaches a synthetic stack trace to messages by default, and Sentry groups such events by
  // that stack trace, so the call site matters.)
  message() {
    Sentry.withScope((scope) => {
      scope.setTag("checkout.step", "payment");
      for (const [payment, order] of [
        [1234, 99],
        [5678, 100],
      ]) {
        const text = `Payment ${payment} failed for order ${order}`;
        report("message", Sentry.captureMessage(text, "warning"));
      }
    });
  },

  // Two different sites forced into one issue by a custom fingerprint.
  fingerprint() {
    for (const [fn, arg] of [
      [chargeCard, 7],
      [loadInventory, "sku-9"],
    ]) {
      Sentry.withScope((scope) => {
        scope.setFingerprint(["payment-provider-down"]);
        capture("custom", fn, arg);
      });
    }
  },

  // An event whose envelope is larger than 32 KiB, which the SDK sends gzip-compressed. Each
  // extra entry stays under the 16 KiB a single `extra` value may hold (Relay's limit).
  large() {
    Sentry.withScope((scope) => {
      for (let part = 0; part < 4; part++) {
        const lines = Array.from({ length: 150 }, (_, i) => `line ${part * 150 + i} ${"z".repeat(80)}`);
        scope.setExtra(`lines_${part}`, lines);
      }
      report("large", Sentry.captureMessage("Nightly export produced a large report", "info"));
    });
  },
};

async function main() {
  const run = scenarios[scenario];
  if (!run) {
    console.error(`unknown scenario ${scenario}`);
    process.exit(2);
  }
  run();
  const flushed = await Sentry.flush(10000);
  if (!flushed) {
    console.error("the SDK did not flush within 10 s");
    process.exit(1);
  }
  await Sentry.close(2000);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
