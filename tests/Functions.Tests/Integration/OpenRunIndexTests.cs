using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// The repairer's index of unfinished runs (<see cref="OpenRunIndex"/>) on real tables, each test with an index table of its own:
/// a pass reads what is due, not every open run; each write keeps a run and its schedule row together through lost responses and
/// racing repairers; rows of the previous version are still repaired, and moved.
/// </summary>
public sealed class OpenRunIndexTests(ITestOutputHelper output)
{
    [Fact]
    public async Task APass_ReadsTheRunsThatAreDue_NotThoseCheckedHoursAhead()
    {
        var host = await RunsTestHost.GetAsync();
        RowsReadByStorage reads = null!;
        var index = new OpenRunIndex(await host.TablesWithOwnOpenRunsAsync(t => reads = new RowsReadByStorage(t)));
        var now = DateTimeOffset.UtcNow;
        var tenant = NewTenant();

        // 2,000 runs waiting for a human, looked at again in 2 to 10 hours; three whose look is due (index rows of runs that were
        // never created, older than the orphan grace: the repairer releases them).
        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            await index.TrackAsync(tenant, $"run_waiting_{i:D4}", now, now.AddHours(2 + (i % 9)), ct));
        foreach (var i in Enumerable.Range(0, 3))
        {
            await index.TrackAsync(tenant, $"run_orphan_{i}", now.AddDays(-1), now.AddSeconds(-1));
        }

        var repairer = Repairer(host, index);

        reads.Reset();
        var pass = await repairer.RunOnceAsync(host.Engine, CancellationToken.None);
        output.WriteLine($"A pass with 3 due and 2,000 open: {reads}");
        var busy = (reads.Queries, reads.PointReads, reads.RowsRead);

        reads.Reset();
        var idle = await repairer.RunOnceAsync(host.Engine, CancellationToken.None);
        output.WriteLine($"A pass with 0 due and 2,000 open: {reads}");

        Assert.Equal((3, 3), (pass.Looked, pass.Released));
        Assert.True(busy.RowsRead <= 3 * 3, $"the pass read {busy.RowsRead} rows for 3 due runs ({busy})");
        Assert.Equal(0, idle.Looked);
        Assert.Equal(0, reads.RowsRead);
        Assert.Equal(0, reads.PointReads);
        Assert.Equal(2000, (await index.DueAsync(now.AddHours(11), 5000)).Count);
    }

    [Fact]
    public async Task ATrack_WhoseResponseWasLost_IndexesTheRunOnce_DueAtItsTime()
    {
        var host = await RunsTestHost.GetAsync();
        LoseResponse loss = null!;
        var tables = await host.TablesWithOwnOpenRunsAsync(t => loss = new LoseResponse(t.Name));
        var index = new OpenRunIndex(tables);
        var now = DateTimeOffset.UtcNow;
        loss.LoseNext(HttpMethod: "POST");

        await index.TrackAsync("t1", "run_1", now, now.AddMinutes(5));

        Assert.Equal(1, loss.Lost);
        Assert.Empty(await index.DueAsync(now.AddMinutes(4), 100));
        Assert.Equal("run_1", Assert.Single(await index.DueAsync(now.AddMinutes(5), 100)).RunId);
        Assert.Single(await ScheduleRowsAsync(tables));
    }

    [Fact]
    public async Task AReschedule_WhoseWriteLandedButWhoseResponseWasLost_MovesTheScheduleOnce()
    {
        var host = await RunsTestHost.GetAsync();
        LoseResponse loss = null!;
        var tables = await host.TablesWithOwnOpenRunsAsync(t => loss = new LoseResponse(t.Name));
        var index = new OpenRunIndex(tables);
        var now = DateTimeOffset.UtcNow;
        await index.TrackAsync("t1", "run_1", now, now.AddSeconds(-1));
        var due = Assert.Single(await index.DueAsync(now, 100));
        loss.LoseNext(HttpMethod: "POST");

        await index.RescheduleAsync(due, now.AddHours(1));

        Assert.Equal(1, loss.Lost);
        Assert.Empty(await index.DueAsync(now.AddMinutes(59), 100));
        var later = Assert.Single(await index.DueAsync(now.AddHours(1), 100));
        Assert.Equal(1, later.Checks);
        Assert.Equal(now.AddHours(1).UtcTicks, Assert.Single(await ScheduleRowsAsync(tables)).Ticks);
    }

    [Fact]
    public async Task AnEarlyLook_WhoseWriteLandedButWhoseResponseWasLost_MakesTheRunDueThen()
    {
        var host = await RunsTestHost.GetAsync();
        LoseResponse loss = null!;
        var tables = await host.TablesWithOwnOpenRunsAsync(t => loss = new LoseResponse(t.Name));
        var index = new OpenRunIndex(tables);
        var now = DateTimeOffset.UtcNow;
        await index.TrackAsync("t1", "run_1", now, now.AddDays(2));
        loss.LoseNext(HttpMethod: "POST");

        await index.CheckByAsync("t1", "run_1", now.AddSeconds(30));

        Assert.Equal(1, loss.Lost);
        Assert.Equal("run_1", Assert.Single(await index.DueAsync(now.AddSeconds(30), 100)).RunId);
        Assert.Equal(now.AddSeconds(30).UtcTicks, Assert.Single(await ScheduleRowsAsync(tables)).Ticks);
    }

    [Fact]
    public async Task ARelease_WhoseWriteLandedButWhoseResponseWasLost_LeavesNoRow()
    {
        var host = await RunsTestHost.GetAsync();
        LoseResponse loss = null!;
        var tables = await host.TablesWithOwnOpenRunsAsync(t => loss = new LoseResponse(t.Name));
        var index = new OpenRunIndex(tables);
        var now = DateTimeOffset.UtcNow;
        await index.TrackAsync("t1", "run_1", now, now.AddHours(3));
        loss.LoseNext(HttpMethod: "POST");

        await index.ReleaseAsync("t1", "run_1");

        Assert.Equal(1, loss.Lost);
        Assert.Empty(await AllRowsAsync(tables));
    }

    [Fact]
    public async Task TwoRepairers_ReschedulingOneRun_LeaveOneSchedule_ThatOfTheRunAsWritten()
    {
        var host = await RunsTestHost.GetAsync();
        var tables = await host.TablesWithOwnOpenRunsAsync();
        var first = new OpenRunIndex(tables);
        var second = new OpenRunIndex(tables); // another repairer: its own index, the same table
        var now = DateTimeOffset.UtcNow;
        for (var round = 0; round < 10; round++)
        {
            var runId = $"run_{round}";
            await first.TrackAsync("t1", runId, now, now.AddSeconds(-1));
            var a = (await first.DueAsync(now, 100)).Single(r => r.RunId == runId);
            var b = (await second.DueAsync(now, 100)).Single(r => r.RunId == runId);

            await Task.WhenAll(first.RescheduleAsync(a, now.AddHours(1)), second.RescheduleAsync(b, now.AddHours(2)));

            var run = await first.GetAsync("t1", runId);
            Assert.NotNull(run);
            Assert.Equal(1, run.Checks);
            var schedule = Assert.Single(await ScheduleRowsAsync(tables), s => s.RowKey.EndsWith("|" + runId, StringComparison.Ordinal));
            Assert.Equal(run.ScheduledTicks, schedule.Ticks);
            Assert.Equal(run.CheckAt.UtcTicks, schedule.Ticks);
        }

        // One decides the run ended, the other that it is healthy: the run leaves the index, with no schedule row left behind.
        await first.TrackAsync("t1", "run_ended", now, now.AddSeconds(-1));
        var x = (await first.DueAsync(now, 100)).Single(r => r.RunId == "run_ended");
        var y = (await second.DueAsync(now, 100)).Single(r => r.RunId == "run_ended");
        await Task.WhenAll(first.ReleaseAsync(x.TenantId, x.RunId), second.RescheduleAsync(y, now.AddHours(1)));

        Assert.Null(await first.GetAsync("t1", "run_ended"));
        Assert.DoesNotContain(await ScheduleRowsAsync(tables), s => s.RowKey.EndsWith("|run_ended", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RowsOfThePreviousVersion_AreStillRepaired_AndMovedInBoundedPasses()
    {
        var host = await RunsTestHost.GetAsync();
        RowsReadByStorage reads = null!;
        var tables = await host.TablesWithOwnOpenRunsAsync(t => reads = new RowsReadByStorage(t));
        var index = new OpenRunIndex(tables);
        var now = DateTimeOffset.UtcNow;
        var tenant = NewTenant();

        // Written by the previous version (key {tenant}|{run}, no schedule row): 150 runs looked at in hours, one orphan due now,
        // and one whose early look the previous version asked for.
        var legacy = Enumerable.Range(0, 150).Select(i => Legacy(tenant, $"run_later_{i:D3}", now, now.AddHours(3)))
            .Append(Legacy(tenant, "run_orphan", now.AddDays(-1), now.AddSeconds(-1)))
            .Append(Legacy(tenant, "run_waiting", now, now.AddDays(2)));
        foreach (var chunk in legacy.Chunk(100))
        {
            await tables.OpenRuns.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Add, e)));
        }

        await index.CheckByAsync(tenant, "run_waiting", now.AddSeconds(-1));
        var repairer = Repairer(host, index);

        var passes = new List<RepairPass>();
        for (var i = 0; i < 3; i++)
        {
            passes.Add(await repairer.RunOnceAsync(host.Engine, CancellationToken.None));
        }

        reads.Reset();
        var idle = await repairer.RunOnceAsync(host.Engine, CancellationToken.None);
        output.WriteLine($"A pass once the previous version's rows are moved: {reads}");
        var idleRows = reads.RowsRead;

        Assert.Equal(1, passes.Sum(p => p.Released)); // the orphan
        Assert.DoesNotContain(await AllRowsAsync(tables), e => !e.RowKey.StartsWith('~'));
        Assert.Null(await index.GetAsync(tenant, "run_orphan"));
        Assert.Equal(151, (await index.DueAsync(now.AddHours(4), 1000)).Count);
        var waiting = await index.GetAsync(tenant, "run_waiting");
        Assert.NotNull(waiting);
        Assert.True(waiting.Checks >= 1, "the run whose early look was asked for was looked at");
        Assert.Equal(0, idle.Looked);
        Assert.Equal(0, idleRows);

        // The previous version, rolled back to, scans for CheckAt: it still sees every run in this form when due, and no schedule row.
        var seenByPrevious = new List<TableEntity>();
        await foreach (var e in tables.OpenRuns.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {OpenRunIndex.Partition} and CheckAt le {now.AddHours(4)}")))
        {
            seenByPrevious.Add(e);
        }

        Assert.Equal(151, seenByPrevious.Count);
        Assert.All(seenByPrevious, e => Assert.StartsWith(OpenRunIndex.RunPrefix, e.RowKey, StringComparison.Ordinal));
        Assert.All(seenByPrevious, e => Assert.Equal(tenant, e.GetString("TenantId")));
    }

    private static string NewTenant() => "t" + Guid.NewGuid().ToString("N")[..8];

    private static RunRepairer Repairer(RunsTestHost host, OpenRunIndex index) =>
        ActivatorUtilities.CreateInstance<RunRepairer>(host.Services, index, Options.Create(new RepairOptions()));

    private static TableEntity Legacy(string tenant, string runId, DateTimeOffset createdAt, DateTimeOffset checkAt) =>
        new(OpenRunIndex.Partition, OpenRunIndex.LegacyRowKeyFor(tenant, runId))
        {
            ["TenantId"] = tenant,
            ["RunId"] = runId,
            ["CreatedAt"] = createdAt,
            ["CheckAt"] = checkAt,
            ["Checks"] = 0,
        };

    private static async Task<List<TableEntity>> AllRowsAsync(RunTables tables)
    {
        var rows = new List<TableEntity>();
        await foreach (var e in tables.OpenRuns.QueryAsync<TableEntity>())
        {
            rows.Add(e);
        }

        return rows;
    }

    private static async Task<List<(string RowKey, long Ticks)>> ScheduleRowsAsync(RunTables tables) =>
        [.. (await AllRowsAsync(tables))
            .Where(e => e.RowKey.StartsWith(OpenRunIndex.SchedulePrefix, StringComparison.Ordinal))
            .Select(e => (e.RowKey, long.Parse(e.RowKey.AsSpan(OpenRunIndex.SchedulePrefix.Length, 19), System.Globalization.CultureInfo.InvariantCulture)))];
}
