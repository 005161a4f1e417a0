using System.Diagnostics;
using System.Text.Json;
using AgentRuns.Benchmarks.Infra;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using Azure.Data.Tables;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// The inbox (<c>GET /v1/requests?status=pending</c>) with W runs waiting, before and after F finished runs are added to
/// the same tenant: its latency and its storage requests per read must not grow with the finished runs.
/// </summary>
public static class InboxScenario
{
    public const string Method =
        "One host, one tenant. {waiting} runs are created over the API with an approval step and a one-day deadline, and the " +
        "inbox is read until it lists them all. Then {reads} reads of `GET /v1/requests?status=pending&limit=100` (one after " +
        "another, paging to the end) are timed and their storage requests counted by the host (the app's table requests per " +
        "read, idle host traffic in the same window subtracted by counting only the Runs table). Then {finished} finished " +
        "runs (record and four events each, as a run that succeeded leaves them) are written straight into the tenant's " +
        "partition of the Runs table, in entity-group batches, and the same reads are repeated. The inbox reads only its own " +
        "row range (`q|…`) of the partition, so the requests per read should not move. The last column times the same row range queried straight against the " +
        "emulator, without the app, to tell the app's cost from the emulator's.";

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        var (waiting, finished, reads) = plan.Name == "quick" ? (20, 1_000, 10) : (100, 10_000, 30);
        context.Log("inbox: starting a host");
        await using var host = await context.StartHostAsync("inbox");
        var body = JsonSerializer.Serialize(new
        {
            input = new { goal = "Inbox benchmark", plan = new object[] { new { type = "approval", prompt = "Approve?" } } },
            signal_timeout_seconds = 86_400,
        });
        context.Log($"inbox: {waiting} waiting runs");
        using (var gate = new SemaphoreSlim(8))
        {
            await Task.WhenAll(Enumerable.Range(0, waiting).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    await host.Http.CreateRunRetryingAsync(body);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        var deadline = Stopwatch.StartNew();
        while (await CountPendingAsync(host.Http) < waiting)
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException("The waiting runs did not all reach the inbox.");
            }

            await Task.Delay(500);
        }

        var before = await MeasureAsync(host, reads, waiting);
        context.Log($"inbox: writing {finished:N0} finished runs into the tenant's partition");
        var written = Stopwatch.StartNew();
        await WriteFinishedRunsAsync(host, finished);
        context.Log($"inbox: wrote them in {written.Elapsed.TotalSeconds:F1} s");
        var after = await MeasureAsync(host, reads, waiting);

        context.Results.Inbox = new InboxResults(
            Method.Replace("{waiting}", waiting.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{reads}", reads.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{finished}", finished.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal),
            waiting, finished, before, after);
        context.Log($"inbox: p50 {before.Latency.P50:F1} → {after.Latency.P50:F1} ms, requests per read {before.RequestsPerRead:F1} → {after.RequestsPerRead:F1}");
    }

    private static async Task<InboxMeasure> MeasureAsync(HostProcess host, int reads, int waiting)
    {
        await host.ReadStorageRequestsAsync(reset: true);
        var times = new List<double>();
        for (var i = 0; i < reads; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var listed = await CountPendingAsync(host.Http);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (listed != waiting)
            {
                throw new InvalidOperationException($"The inbox listed {listed} requests, not {waiting}.");
            }
        }

        var counts = await host.ReadStorageRequestsAsync(reset: true);

        // The same range query straight against the emulator, without the app: if this grows with the finished runs too,
        // the growth is the emulator's (Azurite filters a partition in memory; the service seeks the row key range).
        var table = host.Tables.GetTableClient(host.Settings.RunsTable);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {host.Settings.Tenant} and RowKey gt {RunRows.InboxPrefix} and RowKey lt {RunRows.InboxPrefix + RunRows.End}");
        var direct = new List<double>();
        for (var i = 0; i < reads; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var rows = 0;
            await foreach (var _ in table.QueryAsync<TableEntity>(filter, maxPerPage: 1000))
            {
                rows++;
            }

            direct.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (rows != waiting)
            {
                throw new InvalidOperationException($"The inbox range held {rows} rows, not {waiting}.");
            }
        }

        // StorageCounts names tables without the host's prefix.
        var runsTable = counts.Requests.Where(r => r.Key.Source == "app" && r.Key.Service == "tables" && r.Key.Resource == "Runs").Sum(r => r.Value);
        return new InboxMeasure(Latency.Of(times), Math.Round(runsTable / reads, 2), Latency.Of(direct));
    }

    /// <summary>Follows the inbox's pages to the end; returns how many requests it listed.</summary>
    private static async Task<int> CountPendingAsync(HttpClient http)
    {
        var count = 0;
        string? cursor = null;
        do
        {
            var url = "/v1/requests?status=pending&limit=100" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            using var response = await http.GetAsync(new Uri(url, UriKind.Relative));
            response.EnsureSuccessStatusCode();
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            count += page.RootElement.GetProperty("data").GetArrayLength();
            cursor = page.RootElement.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.RootElement.GetProperty("next_cursor").GetString() : null;
        }
        while (cursor is not null);
        return count;
    }

    /// <summary>Finished runs as the engine leaves them: a succeeded record and its four events, written through the row mapping.</summary>
    private static async Task WriteFinishedRunsAsync(HostProcess host, int count)
    {
        var table = host.Tables.GetTableClient(host.Settings.RunsTable);
        var tenant = host.Settings.Tenant;
        var now = DateTimeOffset.UtcNow.AddDays(-1);
        var batch = new List<TableTransactionAction>();
        var pending = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            var runId = RunIds.New(now.AddMilliseconds(-i));
            var created = RunTransitions.Create(tenant, runId, """{"goal":"finished"}""", null, 3600, now, AgentNames.Scripted);
            var started = RunTransitions.Apply(created.Outcome, new RunWrite(1, RunWriteKind.Start), now);
            var progress = RunTransitions.Apply(started.Next, new RunWrite(2, RunWriteKind.Progress, Step: 1, Tool: "work", Summary: "done"), now);
            var done = RunTransitions.Apply(progress.Next, new RunWrite(3, RunWriteKind.Complete, Ending: RunEnding.Succeeded("""{"ok":true}""")), now);
            batch.Add(new TableTransactionAction(TableTransactionActionType.Add, RunRows.ToEntity(done.Next!)));
            foreach (var e in created.Events!.Concat(started.Events!).Concat(progress.Events!).Concat(done.Events!))
            {
                batch.Add(new TableTransactionAction(TableTransactionActionType.Add, RunRows.ToEntity(tenant, runId, e)));
            }

            if (batch.Count >= 95)
            {
                pending.Add(table.SubmitTransactionAsync(batch));
                batch = [];
                if (pending.Count >= 8)
                {
                    await Task.WhenAll(pending);
                    pending.Clear();
                }
            }
        }

        if (batch.Count > 0)
        {
            pending.Add(table.SubmitTransactionAsync(batch));
        }

        await Task.WhenAll(pending);
    }
}

public sealed record InboxMeasure(Latency Latency, double RequestsPerRead, Latency DirectQuery);

public sealed record InboxResults(string Method, int Waiting, int Finished, InboxMeasure Before, InboxMeasure After);
