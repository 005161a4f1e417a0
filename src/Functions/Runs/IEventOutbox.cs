namespace AgentRuns.Functions.Runs;

/// <summary>
/// Where events leave the service (webhooks). The run store calls it around every write that appends events: before the
/// write, so that what must leave is recorded even if the process dies right after the write (a delivery for an event that
/// then was not written is recognised and dropped at delivery), and after it, to deliver without delay. It must never
/// slow, block or fail a run more than one storage request: delivery itself happens elsewhere.
/// </summary>
public interface IEventOutbox
{
    Task BeforeAppendAsync(string tenantId, string runId, IReadOnlyList<RunEvent> events, CancellationToken cancellationToken);

    void AfterAppend(string tenantId, string runId, IReadOnlyList<RunEvent> events);
}

/// <summary>No outbox: nothing leaves.</summary>
public sealed class NoEventOutbox : IEventOutbox
{
    public Task BeforeAppendAsync(string tenantId, string runId, IReadOnlyList<RunEvent> events, CancellationToken cancellationToken) => Task.CompletedTask;

    public void AfterAppend(string tenantId, string runId, IReadOnlyList<RunEvent> events)
    {
    }
}
