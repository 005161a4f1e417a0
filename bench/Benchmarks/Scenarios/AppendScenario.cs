using System.Globalization;
using System.Text.Json;
using AgentRuns.Benchmarks.Infra;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// Append → client: from an event's write to the Runs table until the client receives it over SSE. In process:
/// the run's own activities append (the host's notifier wakes the stream). Another writer: the benchmark appends events
/// itself through the run store, as another Functions instance would, and the stream finds them by polling.
/// </summary>
public static class AppendScenario
{
    public const string Method =
        "Written = the row's `Timestamp`, which the storage emulator sets when it receives the insert (same clock as the " +
        "client: one machine); received = when the client has the complete SSE frame. In process: runs whose plan is " +
        "{steps} `work` steps and a finish, {concurrency} at a time, their streams opened right after create; every event written " +
        "after the stream was open counts (each step is an activity that appends one event and wakes the stream). Another " +
        "writer: {streams} runs wait for input with their streams open; the benchmark appends `run.worker.progress` rows to " +
        "their logs directly (the next seq), each stream {appends} times with a random 0.5–4 s pause before each append, so the " +
        "stream's poll interval (100 ms after an event, doubling to 2 s while idle) is caught at every stage.";

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        context.Log("append: starting a host");
        await using var host = await context.StartHostAsync("append");
        var runsTable = host.Tables.GetTableClient(host.Settings.RunsTable);
        var tables = new RunTables(host.Tables, new RunStorageOptions { RunsTable = host.Settings.RunsTable, OpenRunsTable = host.Settings.OpenRunsTable });
        var store = new RunStore(
            tables, new OpenRunIndex(tables), new RunEventNotifier(), new NoEventOutbox(), Options.Create(new RepairOptions()), TimeProvider.System, NullLogger<RunStore>.Instance);
        var tenant = host.Settings.Tenant;

        context.Log($"append: in process, {plan.AppendRuns} runs of {plan.AppendSteps} steps");
        var inProcess = new List<double>();
        using (var gate = new SemaphoreSlim(plan.AppendConcurrency))
        {
            var body = JsonSerializer.Serialize(new
            {
                input = new
                {
                    goal = "Append benchmark",
                    plan = Enumerable.Range(1, plan.AppendSteps)
                        .Select(i => (object)new { type = "work", tool = "step", summary = $"Step {i}" })
                        .Append(new { type = "finish" }),
                },
            });
            await Task.WhenAll(Enumerable.Range(0, plan.AppendRuns).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    var (runId, _) = await host.Http.CreateRunAsync(body);
                    await using var stream = await RunStream.OpenAsync(host.Http, runId, TimeSpan.FromMinutes(3));
                    await stream.WaitForEndAsync(Api.EventTimeout);
                    var written = await WrittenAsync(runsTable, tenant, runId);
                    lock (inProcess)
                    {
                        inProcess.AddRange(stream.Events
                            .Where(e => written.TryGetValue(e.Seq, out var at) && at > stream.OpenedWall)
                            .Select(e => (e.ReceivedWall - written[e.Seq]).TotalMilliseconds));
                    }
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        context.Log($"append: another writer, {plan.WriterStreams} streams × {plan.WriterAppends} appends");
        var runs = await Flows.CreateWaitingManyAsync(host, plan.WriterStreams, concurrency: 8);
        var other = new List<double>();
        try
        {
            await Task.WhenAll(runs.Select(async run =>
            {
                var seq = run.Awaiting.Seq;
                var appended = new List<long>();
                for (var i = 0; i < plan.WriterAppends; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500 + (Random.Shared.NextDouble() * 3500)));
                    seq = await store.ApplyAsync(tenant, run.RunId, (record, now) =>
                    {
                        // An event appended with the record, as every writer does; not one of the orchestration's numbered writes.
                        var next = record!.LastEventSeq + 1;
                        return new RunTransition<long>(
                            next,
                            record with { LastEventSeq = next, UpdatedAt = now },
                            [new RunEvent(next, "run.worker.progress", now, false, $$"""{"step":{{next}},"tool":"other_writer","summary":"Appended by another writer"}""")]);
                    });
                    var at = seq;
                    await run.Stream.WaitForAsync(e => e.Seq == at, TimeSpan.FromSeconds(30));
                    appended.Add(seq);
                }

                var written = await WrittenAsync(runsTable, tenant, run.RunId);
                var received = run.Stream.Events.ToDictionary(e => e.Seq);
                lock (other)
                {
                    other.AddRange(appended.Select(s => (received[s].ReceivedWall - written[s]).TotalMilliseconds));
                }
            }));
        }
        finally
        {
            foreach (var run in runs)
            {
                await run.Stream.DisposeAsync();
            }
        }

        context.Results.Append = new AppendResults(
            Method.Replace("{steps}", plan.AppendSteps.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{concurrency}", plan.AppendConcurrency.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{streams}", plan.WriterStreams.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{appends}", plan.WriterAppends.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
            Latency.Of(inProcess),
            Latency.Of(other));
        context.Log($"append: in process p50 {context.Results.Append.InProcess.P50:F1} ms, other writer p50 {context.Results.Append.OtherWriter.P50:F0} ms");
    }

    /// <summary>When the storage received each event of the run (the rows' Timestamp), by seq.</summary>
    private static async Task<Dictionary<long, DateTimeOffset>> WrittenAsync(TableClient runs, string tenant, string runId)
    {
        var written = new Dictionary<long, DateTimeOffset>();
        var from = RunRows.EventKey(runId, 0);
        var to = RunRows.EventPrefix + runId + "|" + RunRows.End;
        await foreach (var row in runs.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey gt {from} and RowKey lt {to}"), select: ["RowKey", "Timestamp"]))
        {
            written[RunRows.SeqOf(row.RowKey)] = row.Timestamp!.Value;
        }

        return written;
    }
}
