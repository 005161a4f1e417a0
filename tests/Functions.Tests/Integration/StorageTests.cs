using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>The tables' invariants, on Azurite: idempotent appends, forward-only projections, one winner per race.</summary>
public sealed class StorageTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 26, 14, 35, 1, TimeSpan.Zero);

    [Fact]
    public async Task RecordEvents_RunTwice_WritesNoDuplicate()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);
        var activities = host.Services.GetRequiredService<RunActivities>();
        var input = new RecordEventsInput(tenant, runId,
            [new EventRecord(1, RunEventTypes.Created, At, false, """{"input":{}}"""), new EventRecord(2, RunEventTypes.Started, At, false, "{}")],
            new RunProjection(RunStatus.Running));

        await activities.RecordEvents(input, CancellationToken.None);
        await activities.RecordEvents(input, CancellationToken.None);
        // A retry that overlaps a later batch partially: the stored events are verified, the new one added.
        await activities.RecordEvents(input with { Events = [.. input.Events, new EventRecord(3, RunEventTypes.Progress, At, false, "{}")] }, CancellationToken.None);

        var stored = await host.Events.ReadAsync(runId, 0, 100);
        Assert.Equal(["0000000001", "0000000002", "0000000003"], stored.Select(e => e.RowKey));
        Assert.Equal(3, (await host.Runs.GetAsync(tenant, runId))!.LastEventSeq);
    }

    [Fact]
    public async Task Append_OfADifferentEventUnderAnExistingSeq_Throws()
    {
        var host = await RunsTestHost.GetAsync();
        var runId = RunIds.New(DateTimeOffset.UtcNow);
        await host.Events.AppendAsync(runId, [new EventRecord(1, RunEventTypes.Created, At, false, "{}")]);

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            host.Events.AppendAsync(runId, [new EventRecord(1, RunEventTypes.Cancelled, At, false, "{}")]));
        Assert.Equal(RunEventTypes.Created, Assert.Single(await host.Events.ReadAsync(runId, 0, 10)).Type);
    }

    [Fact]
    public async Task Projection_NeverMovesBackwards()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);

        await host.Runs.ApplyProjectionAsync(tenant, runId, new RunProjection(RunStatus.Succeeded, OutputJson: "{}"), 5);
        await host.Runs.ApplyProjectionAsync(tenant, runId, new RunProjection(RunStatus.Running), 3);

        var run = (await host.Runs.GetAsync(tenant, runId))!;
        Assert.Equal(RunStatus.Succeeded, run.Status);
        Assert.Equal(5, run.LastEventSeq);
    }

    [Fact]
    public async Task ConcurrentSignalsOnTheRecord_ExactlyOneIsAccepted()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);
        var pending = new PendingInput("req-1", "AWAITING_APPROVAL", "approval", "Send?", SignalActions.All, At.AddHours(1), null);
        await host.Runs.ApplyProjectionAsync(tenant, runId, new RunProjection(RunStatus.AwaitingInput, "req-1", ApiJson.Serialize(pending)), 3);

        var decisions = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() =>
            host.Runs.TryAcceptSignalAsync(tenant, runId, SignalActions.Approve, requestId: null, payloadJson: null))));

        Assert.Single(decisions, d => d.Outcome == SignalOutcome.Accepted);
        Assert.Equal(19, decisions.Count(d => d.Outcome == SignalOutcome.NotAwaitingInput));
        var run = (await host.Runs.GetAsync(tenant, runId))!;
        Assert.Equal("req-1", run.AnsweredRequestId);
        Assert.Equal(RunStatus.Running, run.Status);
    }

    [Fact]
    public async Task TheTimeout_AfterAnAcceptedSignal_ReturnsThatSignal_AndDoesNotCancel()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await NewRunAsync(host);
        var pending = new PendingInput("req-2", "AWAITING_APPROVAL", "approval", "Send?", SignalActions.All, At, null);
        await host.Runs.ApplyProjectionAsync(tenant, runId, new RunProjection(RunStatus.AwaitingInput, "req-2", ApiJson.Serialize(pending)), 3);
        Assert.Equal(SignalOutcome.Accepted, (await host.Runs.TryAcceptSignalAsync(tenant, runId, SignalActions.Reject, "req-2", """{"reason":"no"}""")).Outcome);

        var expiry = await host.Runs.ExpireRequestAsync(tenant, runId, "req-2");

        Assert.Equal(ExpireOutcome.Answered, expiry.Outcome);
        Assert.Equal(SignalActions.Reject, expiry.Signal!.Action);
        Assert.Equal("""{"reason":"no"}""", expiry.Signal.PayloadJson);
        Assert.Equal(RunStatus.Running, (await host.Runs.GetAsync(tenant, runId))!.Status);
    }

    private static async Task<(string Tenant, string RunId)> NewRunAsync(RunsTestHost host)
    {
        var tenant = "storage-" + Guid.NewGuid().ToString("N")[..8];
        var runId = RunIds.New(DateTimeOffset.UtcNow);
        await host.Runs.CreateAsync(new RunEntity
        {
            PartitionKey = tenant,
            RowKey = runId,
            Status = RunStatus.Queued,
            CreatedAt = At,
            UpdatedAt = At,
            InputJson = """{"goal":"g"}""",
            SignalTimeoutSeconds = 60,
        });
        return (tenant, runId);
    }
}
