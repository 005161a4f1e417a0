using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentRuns.Benchmarks.Infra;
using AgentRuns.Benchmarks.Scenarios;

namespace AgentRuns.Benchmarks;

/// <summary>The results as JSON (everything) and Markdown (tables and the method), and the headline table for the console.</summary>
public static class Report
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string ToJson(Results results) => JsonSerializer.Serialize(results, Json);

    /// <summary>The headline figures, one line each.</summary>
    public static string Headline(Results r)
    {
        var md = new StringBuilder();
        if (r.Signal is not null || r.Append is not null || r.Create is not null)
        {
            md.AppendLine("| measure | p50 | p95 | p99 | n |");
            md.AppendLine("|---|---:|---:|---:|---:|");
        }

        foreach (var c in r.Signal?.Cases ?? [])
        {
            Row(md, $"signal → resume, {c.Path}, idle {c.IdleSeconds} s (ms)", c.Resume);
        }

        if (r.Signal?.BatchRatio is { } ratio)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| api ÷ raise_event, idle 0 s rounds | {ratio.P50:F2}× | {ratio.P95:F2}× | {ratio.P99:F2}× | |");
        }

        if (r.Signal?.Sequential is { } seq)
        {
            Row(md, "signal → resume, api, one at a time (ms)", seq.Api);
            Row(md, "signal → resume, raise_event, one at a time (ms)", seq.RaiseEvent);
            md.AppendLine(CultureInfo.InvariantCulture, $"| api ÷ raise_event, one at a time | {seq.Ratio.P50:F2}× | {seq.Ratio.P95:F2}× | {seq.Ratio.P99:F2}× | |");
        }

        if (r.Append is { } a)
        {
            Row(md, "append → client, in process (ms)", a.InProcess);
            Row(md, "append → client, another writer (ms)", a.OtherWriter);
        }

        if (r.Create is { } create)
        {
            Row(md, "create run, back to back (ms)", create.Sequential);
        }

        md.AppendLine();
        if (r.Cost is { } cost)
        {
            md.AppendLine("| storage requests | total | tables | queues | blobs |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            CostRow(md, "idle host, per minute", cost.IdleHostPerMinute);
            CostRow(md, "approve-flow run, per run", cost.PerApproveFlowRun);
            if (cost.PerIdleStreamMinute is { } stream)
            {
                CostRow(md, "idle open stream, per minute", stream);
            }

            md.AppendLine();
            md.AppendLine("| the app's own table requests | total | Runs | OpenRuns | Idempotency | ApiKeys |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            AppRow(md, "approve-flow run, per run", cost.AppPerApproveFlowRun);
            if (cost.Repairer is { } repairer)
            {
                foreach (var window in repairer.Windows)
                {
                    AppRow(md, I($"idle minute (the repairer, a pass every {repairer.IntervalSeconds} s), {WindowShort(window)}"), window.AppPerMinute);
                }

                if (repairer.Look is { } look)
                {
                    md.AppendLine();
                    md.AppendLine(
                        I($"A look at a due run: {look.PerLook.Total:F1} requests ({look.AppPerLook.Total:F1} app tables); the next look {look.NextLookSeconds:F0} s later, ") +
                        I($"so {look.Runs + look.LookedBeforeWindow:N0} waiting runs cost {look.PerMinuteForAll:F1} requests a minute on average (in bursts)."));
                }
            }

            md.AppendLine();
        }

        if (r.Throughput.Count > 0)
        {
            md.AppendLine("| clients | runs/s | runs | flow p50 (ms) | flow p95 (ms) |");
            md.AppendLine("|---:|---:|---:|---:|---:|");
            foreach (var t in r.Throughput)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {t.Clients} | {t.RunsPerSecond:F2} | {t.Runs} | {Ms(t.Flow.P50)} | {Ms(t.Flow.P95)} |");
            }

            md.AppendLine();
        }

        if (r.Waiting is { } w)
        {
            md.AppendLine(
                I($"{w.Runs} runs waiting: RSS {MiB(w.Waiting.RssBytes)} (idle {MiB(w.Idle.RssBytes)}), live GC heap {MiB(w.WaitingCollected.GcHeapBytes)} ") +
                I($"(idle {MiB(w.IdleCollected.GcHeapBytes)}); ") + (w.ResumeAllSeconds is { } all
                    ? I($"all resumed and succeeded {all:F1} s after the first signal.")
                    : I($"{w.Resumed} of {w.Runs} resumed and succeeded within the {r.Plan.ResumeCapSeconds} s cap.")));
        }

        if (r.Inbox is { } inbox)
        {
            md.AppendLine(I($"Inbox ({inbox.Waiting} waiting): p50 {Ms(inbox.Before.Latency.P50)} ms, {inbox.Before.RequestsPerRead:F1} requests per read; with {inbox.Finished:N0} finished runs added: p50 {Ms(inbox.After.Latency.P50)} ms, {inbox.After.RequestsPerRead:F1} per read (the same range queried straight against the emulator: p50 {Ms(inbox.Before.DirectQuery.P50)} → {Ms(inbox.After.DirectQuery.P50)} ms)."));
        }

        return md.ToString();
    }

    public static string ToMarkdown(Results r)
    {
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(
            I($"Measured on the local host (`src/LocalHost`) against Azurite on one machine, with `{r.Command}` ") +
            I($"({r.StartedAt:yyyy-MM-dd HH:mm} UTC, plan `{r.Plan.Name}`, {r.DurationSeconds / 60:F1} min). ") +
            "The same run wrote `results.json` with every figure. Latencies in milliseconds, percentiles by nearest rank.");
        md.AppendLine();
        Machine(md, r.Machine);
        md.AppendLine("## Headline");
        md.AppendLine();
        md.Append(Headline(r));
        md.AppendLine();

        if (r.Signal is { } s)
        {
            md.AppendLine("## 1. Signal → resume");
            md.AppendLine();
            md.AppendLine(s.Method);
            md.AppendLine();
            md.AppendLine("| path | idle | runs × rounds | n | p50 | p95 | p99 | max | first of round: median / max | call p50 / p95 |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in s.Cases)
            {
                md.AppendLine(
                    I($"| {c.Path} | {c.IdleSeconds} s | {c.Batch} × {c.Rounds} | {c.Resume.N} | {Ms(c.Resume.P50)} | {Ms(c.Resume.P95)} | {Ms(c.Resume.P99)} | ") +
                    I($"{Ms(c.Resume.Max)} | {Ms(c.FirstOfRound.P50)} / {Ms(c.FirstOfRound.Max)} | {Ms(c.Call.P50)} / {Ms(c.Call.P95)} |"));
            }

            md.AppendLine();
            md.AppendLine("`call` is how long the signal call itself took: `POST /signal` until its 202, or `RaiseEventAsync` until it returned.");
            if (s.BatchRatio is { } ratio)
            {
                md.AppendLine();
                md.AppendLine(
                    I($"API ÷ bare RaiseEventAsync, idle 0 s rounds (all signals of each path): p50 {ratio.P50:F2}×, p95 {ratio.P95:F2}×, p99 {ratio.P99:F2}×."));
            }

            if (s.Sequential is { } seq)
            {
                md.AppendLine();
                md.AppendLine("| one at a time | n | p50 | p95 | p99 | max |");
                md.AppendLine("|---|---:|---:|---:|---:|---:|");
                LatencyRow(md, "api", seq.Api);
                LatencyRow(md, "raise_event", seq.RaiseEvent);
                md.AppendLine(CultureInfo.InvariantCulture, $"| api ÷ raise_event | | {seq.Ratio.P50:F2}× | {seq.Ratio.P95:F2}× | {seq.Ratio.P99:F2}× | |");
            }

            md.AppendLine();
        }

        if (r.Append is { } a)
        {
            md.AppendLine("## 2. Append → client");
            md.AppendLine();
            md.AppendLine(a.Method);
            md.AppendLine();
            md.AppendLine("| writer | n | p50 | p95 | p99 | max |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            LatencyRow(md, "the run's activities, in the host (woken)", a.InProcess);
            LatencyRow(md, "another writer (polling)", a.OtherWriter);
            md.AppendLine();
        }

        if (r.Cost is { } cost)
        {
            md.AppendLine("## 3. Storage requests");
            md.AppendLine();
            md.AppendLine(cost.Method);
            md.AppendLine();
            md.AppendLine("| | total | tables | queues | blobs | app tables | Durable tables | Durable queues | Durable blobs |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            SummaryRow(md, $"idle host, per minute ({cost.BaselineSeconds:F0} s measured)", cost.IdleHostPerMinute);
            SummaryRow(md, $"approve-flow run, per run ({cost.ApproveFlowRuns} runs, idle host subtracted)", cost.PerApproveFlowRun);
            if (cost.PerIdleStreamMinute is { } stream)
            {
                SummaryRow(md, $"idle open stream of a waiting run, per minute ({cost.IdleStreamMinutes:F0} stream-minutes, idle host subtracted)", stream);
            }

            md.AppendLine();
            md.AppendLine(
                "The app's own table requests per approve-flow run, by table (resource as counted, the host's table prefix taken off; " +
                "`$batch`, an entity-group transaction, is the run store's, in Runs):");
            md.AppendLine();
            md.AppendLine("| | total | Runs (`Runs`, `$batch`) | OpenRuns (`Open`) | Idempotency (`Idem`) | ApiKeys (`Keys`) | other |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            var app = cost.AppPerApproveFlowRun;
            md.AppendLine(
                I($"| approve-flow run, per run ({cost.ApproveFlowRuns} runs, idle host subtracted) | **{app.Total:F1}** | {app.Runs:F1} | {app.OpenRuns:F1} | ") +
                I($"{app.Idempotency:F1} | {app.ApiKeys:F1} | {app.Other:F1} |"));
            md.AppendLine();
            Top(md, "The app's table requests per approve-flow run, by request kind", cost.AppPerRunLines);
            Top(md, "Per approve-flow run, by request kind", cost.PerRunTop);
            Top(md, "Idle host, per minute, by request kind", cost.IdleHostTop);
            if (cost.IdleStreamTop is { } streamTop)
            {
                Top(md, "Idle open stream, per stream-minute, by request kind (idle host subtracted)", streamTop);
            }

            if (cost.Repairer is { } repairer)
            {
                Repairer(md, repairer);
            }
        }

        if (r.Throughput.Count > 0)
        {
            md.AppendLine("## 4. Throughput");
            md.AppendLine();
            md.AppendLine(ThroughputScenario.Method);
            md.AppendLine();
            md.AppendLine("| clients | runs | s | runs/s | create p50 / p95 | signal → resume p50 / p95 | flow p50 / p95 / p99 | host cores | Azurite cores | benchmark cores |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var t in r.Throughput)
            {
                md.AppendLine(
                    I($"| {t.Clients} | {t.Runs} | {t.Seconds:F1} | {t.RunsPerSecond:F2} | {Ms(t.Create.P50)} / {Ms(t.Create.P95)} | ") +
                    I($"{Ms(t.SignalToResume.P50)} / {Ms(t.SignalToResume.P95)} | {Ms(t.Flow.P50)} / {Ms(t.Flow.P95)} / {Ms(t.Flow.P99)} | ") +
                    I($"{t.HostCores:F2} | {t.AzuriteCores:F2} | {t.BenchCores:F2} |"));
            }

            md.AppendLine();
            foreach (var t in r.Throughput)
            {
                Top(md, I($"{t.Clients} clients: {t.StorageRequestsPerSecond:F0} storage requests/s; per completed run, the kinds that took the most time"), t.StorageByTime);
            }
        }

        if (r.Waiting is { } w)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"## 5. {w.Runs:N0} runs waiting for input");
            md.AppendLine();
            md.AppendLine(WaitingScenario.Method(r.Plan));
            md.AppendLine();
            md.AppendLine("| host memory | RSS | GC heap | GC committed | threads |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            MemoryRow(md, "idle (warm, no runs)", w.Idle);
            MemoryRow(md, "idle, after a full GC", w.IdleCollected);
            MemoryRow(md, $"{w.Runs:N0} waiting", w.Waiting);
            MemoryRow(md, $"{w.Runs:N0} waiting, after a full GC", w.WaitingCollected);
            MemoryRow(md, "after all resumed", w.AfterResume);
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"Per waiting run: RSS {w.RssBytesPerRun / 1024:F1} KiB, live GC heap {w.LiveHeapBytesPerRun / 1024:F1} KiB " +
                $"(server GC: {(w.Waiting.ServerGc ? "yes" : "no")}). Peak RSS over the host's life: {MiB(w.AfterResume.PeakRssBytes)}.");
            md.AppendLine();
            md.AppendLine("| | s |");
            md.AppendLine("|---|---:|");
            md.AppendLine(CultureInfo.InvariantCulture, $"| create all {w.Runs:N0} | {w.CreateSeconds:F1} |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| from the first create until all wait for input | {w.AllWaitingSeconds:F1} |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| send all {w.Runs:N0} signals (202s) | {w.SignalAllSeconds:F1} |");
            md.AppendLine(w.ResumeAllSeconds is { } all
                ? I($"| **resume all: first signal until all succeeded** | **{all:F1}** |")
                : I($"| **resume all: {w.Resumed:N0} of {w.Runs:N0} succeeded when the {r.Plan.ResumeCapSeconds} s cap ended the wait** | **—** |"));
            md.AppendLine();
            md.AppendLine(I($"While resuming: host {w.HostCores:F2} cores, Azurite {w.AzuriteCores:F2} cores (CPU seconds per second)."));
            md.AppendLine();
            md.AppendLine("| seconds after the first signal | runs succeeded |");
            md.AppendLine("|---:|---:|");
            foreach (var point in w.Timeline)
            {
                md.AppendLine(I($"| {point.Seconds:F0} | {point.Succeeded:N0} |"));
            }

            md.AppendLine();
            md.AppendLine(
                I($"Signal call under that load: p50 {Ms(w.SignalCall.P50)} ms, p95 {Ms(w.SignalCall.P95)} ms, p99 {Ms(w.SignalCall.P99)} ms."));
            md.AppendLine();
            Top(md, I($"Resume all: {w.StorageRequestsPerSecond:F0} storage requests/s; per run, the kinds that took the most time"), w.StorageByTime);
        }

        if (r.Create is { } create)
        {
            md.AppendLine("## 6. Create run");
            md.AppendLine();
            md.AppendLine(create.Method);
            md.AppendLine();
            md.AppendLine("| | n | p50 | p95 | p99 | max |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            LatencyRow(md, "`POST /v1/runs`, back to back", create.Sequential);
            md.AppendLine();
        }

        if (r.Inbox is { } inbox)
        {
            md.AppendLine(I($"## 6b. The inbox with {inbox.Waiting} waiting runs, before and after {inbox.Finished:N0} finished ones"));
            md.AppendLine();
            md.AppendLine(inbox.Method);
            md.AppendLine();
            md.AppendLine("| | n | p50 | p95 | p99 | max | Runs-table requests per read | direct range query p50 |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            md.AppendLine(I($"| {inbox.Waiting} waiting, no finished runs | {inbox.Before.Latency.N} | {Ms(inbox.Before.Latency.P50)} | {Ms(inbox.Before.Latency.P95)} | {Ms(inbox.Before.Latency.P99)} | {Ms(inbox.Before.Latency.Max)} | {inbox.Before.RequestsPerRead:F2} | {Ms(inbox.Before.DirectQuery.P50)} |"));
            md.AppendLine(I($"| {inbox.Waiting} waiting, {inbox.Finished:N0} finished runs | {inbox.After.Latency.N} | {Ms(inbox.After.Latency.P50)} | {Ms(inbox.After.Latency.P95)} | {Ms(inbox.After.Latency.P99)} | {Ms(inbox.After.Latency.Max)} | {inbox.After.RequestsPerRead:F2} | {Ms(inbox.After.DirectQuery.P50)} |"));
            md.AppendLine();
        }

        if (r.Micro.Count > 0)
        {
            md.AppendLine("## 7. Micro benchmarks");
            md.AppendLine();
            md.AppendLine(r.Methods.GetValueOrDefault("micro", ""));
            md.AppendLine();
            md.AppendLine("| operation | mean | ± s.e. | allocated |");
            md.AppendLine("|---|---:|---:|---:|");
            foreach (var m in r.Micro)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {m.Name} | {Ns(m.MeanNs)} | {Ns(m.StdErrNs)} | {(m.AllocatedBytes is { } b ? $"{b:N0} B" : "?")} |");
            }

            md.AppendLine();
        }

        if (r.HostWarnings.Count > 0)
        {
            md.AppendLine("## What the hosts logged");
            md.AppendLine();
            md.AppendLine("Warnings and errors of each scenario's host (ids taken out), with how often:");
            md.AppendLine();
            md.AppendLine("| host | message | times |");
            md.AppendLine("|---|---|---:|");
            foreach (var (host, warnings) in r.HostWarnings)
            {
                foreach (var (message, count) in warnings.OrderByDescending(w => w.Value))
                {
                    md.AppendLine(I($"| {host} | {message.Replace("|", "\\|", StringComparison.Ordinal)} | {count} |"));
                }
            }

            md.AppendLine();
        }

        if (r.Errors.Count > 0)
        {
            md.AppendLine("## Errors");
            md.AppendLine();
            foreach (var e in r.Errors)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {e}");
            }

            md.AppendLine();
        }

        return md.ToString();
    }

    private static void Repairer(StringBuilder md, RepairerResults r)
    {
        md.AppendLine("### 3a. The repairer when nothing is wrong");
        md.AppendLine();
        md.AppendLine(r.Method);
        md.AppendLine();
        md.AppendLine(I($"Pass interval: {r.IntervalSeconds} s (`Repair__IntervalSeconds`)."));
        md.AppendLine();
        md.AppendLine(r.CreateRetries.Count == 0
            ? "Creates sent again: none."
            : "Creates sent again (same key, after `Retry-After`), by the answer that made the benchmark retry: " +
              string.Join(", ", r.CreateRetries.Select(c => I($"{c.Key} × {c.Value}"))) + ".");
        md.AppendLine();
        md.AppendLine(
            "| idle window | runs ended / waiting / other | index rows (due in window) | measured | OpenRuns queries (count) | " +
            "OpenRuns / min | app tables / min | Runs / min | whole host / min (tables, queues, blobs) |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var w in r.Windows)
        {
            md.AppendLine(
                I($"| {w.Label} | {w.EndedRuns:N0} / {w.WaitingRuns:N0} / {w.OtherRuns:N0} | {w.IndexRows:N0} ({w.IndexRowsDue:N0}) | {w.Seconds:F0} s | ") +
                I($"{w.OpenRunsQueries} | **{w.AppPerMinute.OpenRuns:F1}** | **{w.AppPerMinute.Total:F1}** | {w.AppPerMinute.Runs:F1} | ") +
                I($"{w.PerMinute.Total:F1} ({w.PerMinute.Tables:F1}, {w.PerMinute.Queues:F1}, {w.PerMinute.Blobs:F1}) |"));
        }

        md.AppendLine();
        foreach (var w in r.Windows)
        {
            Top(md, I($"App table requests per idle minute, {w.Label}"), w.AppTop);
        }

        if (r.Look is { } look)
        {
            md.AppendLine(
                I($"One look at a due run ({look.Runs:N0} looks in {look.Seconds:F0} s") +
                (look.LookedBeforeWindow > 0 ? I($"; {look.LookedBeforeWindow} more were looked at before the window and are not counted") : "") +
                I($"; idle host subtracted): **{look.PerLook.Total:F1} requests**, {look.AppPerLook.Total:F1} of them the app's tables ") +
                I($"(Runs {look.AppPerLook.Runs:F1}, OpenRuns {look.AppPerLook.OpenRuns:F1}), Durable tables {look.PerLook.DurableTables:F1}, ") +
                I($"Durable queues {look.PerLook.DurableQueues:F1}. The look put each run's next look {look.NextLookSeconds:F0} s later (median), ") +
                I($"so {look.Runs + look.LookedBeforeWindow:N0} waiting runs cost **{look.PerMinuteForAll:F1} requests a minute on average**, ") +
                "in a burst when their looks come due, not in the idle window after one.");
            md.AppendLine();
            Top(md, "One look, by request kind (idle host subtracted)", look.PerLookTop);
        }
    }

    private static string WindowShort(IdleWindow w) =>
        w.WaitingRuns > 0 ? I($"{w.WaitingRuns:N0} waiting, {w.EndedRuns:N0} ended") : I($"{w.EndedRuns:N0} ended, none waiting");

    private static void AppRow(StringBuilder md, string name, AppTables a) =>
        md.AppendLine(I($"| {name} | {a.Total:F1} | {a.Runs:F1} | {a.OpenRuns:F1} | {a.Idempotency:F1} | {a.ApiKeys:F1} |"));

    private static void Machine(StringBuilder md, MachineInfo m)
    {
        md.AppendLine("## Machine");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| CPU | {m.CpuModel}, `nproc` {m.Cores} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| OS | {m.Os} ({m.Kernel}) |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| .NET | {m.DotNetRuntime}, SDK {m.DotNetSdk} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| Node / Azurite | {m.Node} / Azurite {m.Azurite} (in memory) |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| load average (1, 5, 15 min) | before: {m.LoadBefore}; after: {m.LoadAfter} |");
        md.AppendLine();
        md.AppendLine("`free -h`:");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(m.FreeH);
        md.AppendLine("```");
        md.AppendLine();
    }

    private static void Row(StringBuilder md, string name, Latency l) =>
        md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {Ms(l.P50)} | {Ms(l.P95)} | {Ms(l.P99)} | {l.N} |");

    private static void LatencyRow(StringBuilder md, string name, Latency l) =>
        md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {l.N} | {Ms(l.P50)} | {Ms(l.P95)} | {Ms(l.P99)} | {Ms(l.Max)} |");

    private static void CostRow(StringBuilder md, string name, StorageSummary s) =>
        md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {s.Total:F1} | {s.Tables:F1} | {s.Queues:F1} | {s.Blobs:F1} |");

    private static void SummaryRow(StringBuilder md, string name, StorageSummary s) =>
        md.AppendLine(
            I($"| {name} | {s.Total:F1} | {s.Tables:F1} | {s.Queues:F1} | {s.Blobs:F1} | {s.AppTables:F1} | {s.DurableTables:F1} | {s.DurableQueues:F1} | {s.DurableBlobs:F1} |"));

    private static void MemoryRow(StringBuilder md, string name, MemorySample m) =>
        md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {MiB(m.RssBytes)} | {MiB(m.GcHeapBytes)} | {MiB(m.GcCommittedBytes)} | {m.Threads} |");

    private static void Top(StringBuilder md, string title, List<RequestLine> lines)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"{title}:");
        md.AppendLine();
        md.AppendLine("| sender | service | method | resource | count | ms each |");
        md.AppendLine("|---|---|---|---|---:|---:|");
        foreach (var l in lines)
        {
            md.AppendLine(
                I($"| {l.Source} | {l.Service} | {l.Method} | `{l.Resource}` | {l.Count:F2} | ") +
                (l.MsEach is { } ms ? ms.ToString("F1", CultureInfo.InvariantCulture) : "") + " |");
        }

        md.AppendLine();
    }

    private static string I(FormattableString s) => FormattableString.Invariant(s);

    private static string Ms(double ms) => double.IsNaN(ms) ? "–" : ms >= 100 ? ms.ToString("F0", CultureInfo.InvariantCulture) : ms.ToString("F1", CultureInfo.InvariantCulture);

    private static string Ns(double ns) => double.IsNaN(ns) ? "–" : ns >= 10_000 ? $"{ns / 1000:F1} µs" : $"{ns:F0} ns";

    private static string MiB(long bytes) => $"{bytes / 1048576.0:F1} MiB";
}
