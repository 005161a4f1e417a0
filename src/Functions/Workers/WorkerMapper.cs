using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;

namespace AgentRuns.Functions.Workers;

/// <summary>The one place a stored worker becomes what the API shows (the secret only in the answer to its create).</summary>
public static class WorkerMapper
{
    public const string Object = "worker";

    public static WorkerResource ToResource(WorkerRegistration worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return new WorkerResource(Object, worker.Name, WorkerNames.Agent(worker.Name), worker.Url, worker.CreatedAt);
    }

    public static CreatedWorkerResource ToCreated(WorkerRegistration worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return new CreatedWorkerResource(Object, worker.Name, WorkerNames.Agent(worker.Name), worker.Url, worker.CreatedAt, worker.Secret);
    }
}
