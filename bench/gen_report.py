"""One SDK metrics report, as bench/ingest.sh and bench/instructions.sh post it:
`python3 bench/gen_report.py FEATURES.json REPORT.json`.

A minute's evaluations of five flags of FEATURES.json and 50 impact metrics: the requests and
errors the ingest benchmark's guards read, and 48 others (counters, gauges, histograms, with
labels); about 8.4 KB. The bucket is the current minute, as the server takes buckets from the
last two days only. benches/ingest.rs builds the same report in Rust.
"""
import datetime
import json
import sys

features, out = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
start = now.strftime("%Y-%m-%dT%H:%M:%SZ")
stop = (now + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
keys = [f["name"] for f in json.load(open(features))["features"]]
metrics = [
    {"name": "http_requests", "help": "requests", "type": "counter",
     "samples": [{"labels": {"route": "/checkout"}, "value": 1000}]},
    {"name": "http_errors", "help": "errors", "type": "counter",
     "samples": [{"labels": {"route": "/checkout"}, "value": 3}]},
]
for i in range(48):
    kind = ("counter", "gauge", "histogram")[i % 3]
    labels = {"region": ("eu", "us")[i % 2], "pod": f"web-{i % 4}"}
    if kind == "histogram":
        sample = {"labels": labels, "count": 100, "sum": 25.5, "buckets": [
            {"le": 0.1, "count": 50}, {"le": 0.5, "count": 85}, {"le": 1.0, "count": 95},
            {"le": "+Inf", "count": 100}]}
    else:
        sample = {"labels": labels, "value": 7 + i}
    metrics.append({"name": f"shop_metric_{i}", "help": "filler", "type": kind, "samples": [sample]})
report = {
    "appName": "shop", "instanceId": "bench-1", "environment": "development",
    "bucket": {"start": start, "stop": stop,
               "toggles": {k: {"yes": 40, "no": 2, "variants": {}} for k in keys[:5]}},
    "impactMetrics": metrics,
}
with open(out, "w") as f:
    json.dump(report, f)
