using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>The Runs table's invariants, on Azurite: record and events written together, one winner per race, any size stored.</summary>
public sealed class StorageTests
{
    private static readonly Actor Operator = new("key_test", "test");

    [Fact]
    public async Task ATransition_WritesTheRecordAndItsEventsTogether_NumberedAfterTheLogsEnd()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);

        var outcome = await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));

        Assert.Equal(WriteOutcome.Applied, outcome);
        var run = (await host.Runs.GetAsync(tenant, runId))!;
        Assert.Equal((RunStatus.Running, 2L), (run.Status, run.LastEventSeq));
        Assert.Equal([RunEventTypes.Created, RunEventTypes.Started], (await host.Runs.ReadEventsAsync(tenant, runId, 0, 10)).Select(e => e.Type));
    }

    [Fact]
    public async Task AnOrchestrationWrite_AppliedTwice_IsWrittenOnce()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);
        var write = new RunWrite(1, RunWriteKind.Start);

        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, write, now));
        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, write, now));

        Assert.Equal(2, (await host.Runs.ReadEventsAsync(tenant, runId, 0, 10)).Count);
    }

    [Fact]
    public async Task ConcurrentWriters_LeaveAContiguousLog_ThatEndsWhereTheRecordSays()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);
        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));

        // Sixteen writers at once, each adding a step (numbered writes skip those an earlier index already passed), and a
        // cancel among them: whatever interleaving, every event lands once, right after the one before.
        var writers = Enumerable.Range(2, 16)
            .Select(i => Task.Run(() => host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(i, RunWriteKind.Progress, Step: i), now))))
            .Append(Task.Run(async () =>
            {
                await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Cancel(r, Operator, now));
                return WriteOutcome.Applied;
            }))
            .ToList();
        await Task.WhenAll(writers);

        var run = (await host.Runs.GetAsync(tenant, runId))!;
        var events = await host.Runs.ReadEventsAsync(tenant, runId, 0, 100);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.Equal(run.LastEventSeq, events[^1].Seq);
        Assert.Equal(RunEventTypes.Cancelled, events[^1].Type);
        Assert.Equal(RunStatus.Cancelled, run.Status);
    }

    [Fact]
    public async Task TwentyConcurrentSignals_OneIsAccepted_AndItsEventIsTheOnlyOne()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await WaitingRunAsync(host, DateTimeOffset.UtcNow.AddMinutes(5));

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => host.Runs.ApplyAsync(
            tenant, runId, (r, now) => RunTransitions.AcceptSignal(r, new SignalCommand(SignalActions.Approve, null, null, null, false, Operator, $"k{i}"), now)))));

        Assert.Single(outcomes, o => o.Verdict == SignalVerdict.Accepted);
        Assert.Equal(19, outcomes.Count(o => o.Verdict == SignalVerdict.NotAwaitingInput));
        Assert.Single(await host.Runs.ReadEventsAsync(tenant, runId, 0, 100), e => e.Type == RunEventTypes.SignalReceived);
    }

    [Fact]
    public async Task ASignalAndTheDeadline_Racing_NeverBothWin()
    {
        var host = await RunsTestHost.GetAsync();
        var both = 0;
        var outcomes = new List<(SignalVerdict, ExpireVerdict)>();
        for (var trial = 0; trial < 10; trial++)
        {
            var expiresAt = DateTimeOffset.UtcNow.AddMilliseconds(150);
            var (tenant, runId) = await WaitingRunAsync(host, expiresAt);
            // Until the wall clock has passed the deadline: Task.Delay truncates to whole milliseconds and may end just before it.
            while (DateTimeOffset.UtcNow < expiresAt)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, (expiresAt - DateTimeOffset.UtcNow).TotalMilliseconds + 1)));
            }

            var signal = Task.Run(() => host.Runs.ApplyAsync(
                tenant, runId, (r, now) => RunTransitions.AcceptSignal(r, new SignalCommand(SignalActions.Approve, null, null, null, false, Operator, null), now)));
            var expire = Task.Run(() => host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Expire(r, "req", now)));
            var (s, e) = ((await signal).Verdict, (await expire).Verdict);
            outcomes.Add((s, e));
            both += s == SignalVerdict.Accepted && e == ExpireVerdict.Expired ? 1 : 0;
            Assert.Contains(e, new[] { ExpireVerdict.Expired, ExpireVerdict.Answered });
            Assert.Equal(s == SignalVerdict.Accepted, e == ExpireVerdict.Answered);
        }

        Assert.Equal(0, both);
    }

    [Fact]
    public async Task ValuesLongerThanATableProperty_AreStoredWhole_AndComeBackExactly()
    {
        var host = await RunsTestHost.GetAsync();
        var tenant = "t" + Guid.NewGuid().ToString("N")[..8];
        var runId = RunIds.New(DateTimeOffset.UtcNow);

        // 90,000 characters of CJK, characters JSON encoders like to escape, and a pair that must not be split.
        var text = string.Concat(Enumerable.Repeat("漢字<>&'\"+\\ é😀", 9_000));
        var input = "{\"goal\":" + System.Text.Json.JsonSerializer.Serialize(text, ApiJson.Options) + "}";
        Assert.True(input.Length > 3 * LargeText.ChunkChars);
        var creation = RunTransitions.Create(tenant, runId, input, null, 60, DateTimeOffset.UtcNow);
        Assert.True(await host.Runs.CreateAsync(creation));

        var run = (await host.Runs.GetAsync(tenant, runId))!;
        Assert.Equal(input, run.InputJson);
        var created = Assert.Single(await host.Runs.ReadEventsAsync(tenant, runId, 0, 10));
        Assert.Equal("{\"input\":" + input + ",\"metadata\":null,\"agent\":\"scripted\"}", created.ValueJson);
    }

    [Fact]
    public async Task ACreateThatRunsTwice_WritesOnce()
    {
        var host = await RunsTestHost.GetAsync();
        var tenant = "t" + Guid.NewGuid().ToString("N")[..8];
        var runId = RunIds.New(DateTimeOffset.UtcNow);
        var creation = RunTransitions.Create(tenant, runId, """{"goal":"g"}""", null, 60, DateTimeOffset.UtcNow);

        Assert.True(await host.Runs.CreateAsync(creation));
        Assert.False(await host.Runs.CreateAsync(creation));
        Assert.Single(await host.Runs.ReadEventsAsync(tenant, runId, 0, 10));
    }

    [Fact]
    public async Task TheOpenRunsIndex_HoldsARunFromCreateUntilItEnds()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);
        var key = OpenRunIndex.RowKeyFor(tenant, runId);
        Assert.True(await ExistsAsync(host.Tables.OpenRuns, key));

        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Cancel(r, Operator, now));

        Assert.False(await ExistsAsync(host.Tables.OpenRuns, key));
    }

    [Fact]
    public async Task AnAcceptedSignal_MakesTheRunDueForTheRepairer_WithinTheSignalGrace()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await WaitingRunAsync(host, DateTimeOffset.UtcNow.AddDays(1));
        await host.OpenRuns.RescheduleAsync(
            (await host.OpenRuns.DueAsync(DateTimeOffset.UtcNow.AddYears(1), 1000)).Single(o => o.RunId == runId), DateTimeOffset.UtcNow.AddDays(2));

        await host.Runs.ApplyAsync(
            tenant, runId, (r, now) => RunTransitions.AcceptSignal(r, new SignalCommand(SignalActions.Approve, null, null, null, false, Operator, null), now));

        var due = await host.OpenRuns.DueAsync(DateTimeOffset.UtcNow.AddSeconds(31), 1000);
        Assert.Contains(due, o => o.RunId == runId);
    }

    internal static async Task<(string Tenant, string RunId)> NewRunAsync(RunsTestHost host)
    {
        var tenant = "t" + Guid.NewGuid().ToString("N")[..8];
        var runId = RunIds.New(DateTimeOffset.UtcNow);
        Assert.True(await host.Runs.CreateAsync(RunTransitions.Create(tenant, runId, """{"goal":"g"}""", null, 60, DateTimeOffset.UtcNow)));
        return (tenant, runId);
    }

    private static async Task<(string Tenant, string RunId)> WaitingRunAsync(RunsTestHost host, DateTimeOffset expiresAt)
    {
        var (tenant, runId) = await NewRunAsync(host);
        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));
        var request = new PendingRequest("req", InputKinds.Approval, "Send?", SignalActions.All, expiresAt);
        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(2, RunWriteKind.OpenRequest, Request: request), now));
        return (tenant, runId);
    }

    private static async Task<bool> ExistsAsync(TableClient table, string rowKey) =>
        (await table.GetEntityIfExistsAsync<TableEntity>(OpenRunIndex.Partition, rowKey)).HasValue;
}
