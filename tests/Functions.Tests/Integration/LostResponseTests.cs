using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Functions.Webhooks;
using AgentRuns.Functions.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// A write that lands while its response is lost, so the storage client sends it again: the retry must recognise its own
/// write (a claim, an accepted answer, a cancel) instead of reporting another request's.
/// </summary>
public sealed class LostResponseTests
{
    [Fact]
    public async Task AnIdempotencyClaim_WhoseInsertLandedButWhoseResponseWasLost_IsOwnedByItsRetry()
    {
        var host = await RunsTestHost.GetAsync();
        var (tables, loss) = TablesLosingResponses(host, "Idem");
        var store = new IdempotencyStore(tables, Options.Create(new IdempotencyOptions()), TimeProvider.System);
        loss.LoseNext(HttpMethod: "POST");

        var claim = await store.ClaimAsync("t-" + Guid.NewGuid().ToString("N")[..8], "POST", "/v1/runs", Guid.NewGuid().ToString(), "fp", CancellationToken.None);

        Assert.Equal(1, loss.Lost);
        Assert.IsType<IdempotencyClaim.Owned>(claim);
    }

    [Fact]
    public async Task AnAcceptedSignal_WhoseWriteLandedButWhoseResponseWasLost_IsAcceptedOnce_NotRefused()
    {
        var host = await RunsTestHost.GetAsync();
        var (tables, loss) = TablesLosingResponses(host, "Runs");
        // The index's early look is a batch too (lost responses there: OpenRunIndexTests); here the run's own write loses its response.
        var store = new RunStore(
            tables, new OpenRunIndex(host.Tables), new RunEventNotifier(), new NoEventOutbox(), Options.Create(new RepairOptions()), TimeProvider.System,
            NullLogger<RunStore>.Instance);
        var (tenant, runId) = await WaitingRunAsync(host);
        var command = new SignalCommand(SignalActions.Approve, null, null, null, false, new Actor("key_x", "x"), "attempt:1");
        loss.LoseNext(HttpMethod: "POST");

        var outcome = await store.ApplyAsync(tenant, runId, (run, now) => RunTransitions.AcceptSignal(run, command, now));

        Assert.Equal(1, loss.Lost);
        Assert.Equal(SignalVerdict.Replayed, outcome.Verdict); // its own answer, found on the retry's re-read
        Assert.Single(await host.Runs.ReadEventsAsync(tenant, runId, 0, 100), e => e.Type == RunEventTypes.SignalReceived);
    }

    [Fact]
    public async Task ACancel_WhoseWriteLandedButWhoseResponseWasLost_IsAccepted()
    {
        var host = await RunsTestHost.GetAsync();
        var (tables, loss) = TablesLosingResponses(host, "Runs");
        var store = new RunStore(
            tables, new OpenRunIndex(tables), new RunEventNotifier(), new NoEventOutbox(), Options.Create(new RepairOptions()), TimeProvider.System,
            NullLogger<RunStore>.Instance);
        var (tenant, runId) = await WaitingRunAsync(host);
        loss.LoseNext(HttpMethod: "POST");

        var outcome = await store.ApplyAsync(tenant, runId, (run, now) => RunTransitions.Cancel(run, null, now, attempt: "c1"));

        Assert.Equal(1, loss.Lost);
        Assert.Equal(CancelOutcome.Accepted, outcome);
        Assert.Single(await host.Runs.ReadEventsAsync(tenant, runId, 0, 100), e => e.Type == RunEventTypes.Cancelled);
    }

    [Fact]
    public async Task AWorkerRegistration_WhoseWriteLandedButWhoseResponseWasLost_IsCreated_NotTheNameIsTaken()
    {
        var host = await RunsTestHost.GetAsync();
        var (tables, loss) = TablesLosingResponses(host, "Workers");
        var store = new WorkerStore(tables);
        var service = new WorkerService(
            store, host.Services.GetRequiredService<WebhookUrlPolicy>(), host.Services.GetRequiredService<IOptions<WorkerOptions>>(), TimeProvider.System,
            NullLogger<WorkerService>.Instance);
        var caller = new Caller("t" + Guid.NewGuid().ToString("N")[..8], new Actor("key_x", "x"));
        loss.LoseNext(HttpMethod: "POST");

        var created = await service.CreateAsync(caller, new CreateWorkerRequest("email", "https://93.184.215.14/worker"), seed: null, CancellationToken.None);

        Assert.Equal(1, loss.Lost);
        Assert.Equal(created.Secret, (await store.GetAsync(caller.TenantId, "email"))!.Secret);
        Assert.Single(await store.ListAsync(caller.TenantId));
    }

    private static async Task<(string Tenant, string RunId)> WaitingRunAsync(RunsTestHost host)
    {
        var (tenant, runId) = await StorageTests.NewRunAsync(host);
        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));
        var request = new PendingRequest("req", InputKinds.Approval, "Send?", SignalActions.All, DateTimeOffset.UtcNow.AddMinutes(5));
        await host.Runs.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(2, RunWriteKind.OpenRequest, Request: request), now));
        return (tenant, runId);
    }

    /// <summary>The host's tables, through a client whose next matching request reaches storage and then "loses" its response.</summary>
    private static (RunTables Tables, LoseResponse Loss) TablesLosingResponses(RunsTestHost host, string tableSuffix)
    {
        var loss = new LoseResponse(host.TablePrefix + tableSuffix);
        return (host.TablesWith(loss), loss);
    }
}
