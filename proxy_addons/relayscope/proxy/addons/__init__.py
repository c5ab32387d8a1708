"""The mitmproxy addons that route, guard, record and time each flow."""
