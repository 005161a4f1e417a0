namespace AgentRuns.Functions.Model;

// The workers API's resources. The signing secret appears in one of them only: the answer to the create.

/// <summary>An HTTP worker as the API shows it.</summary>
/// <param name="Agent">What a run names to use it: <c>worker:{name}</c>.</param>
public sealed record WorkerResource(string Object, string Name, string Agent, string Url, DateTimeOffset CreatedAt);

/// <summary>The 201 body of a create: the worker and its signing secret, shown this once.</summary>
public sealed record CreatedWorkerResource(string Object, string Name, string Agent, string Url, DateTimeOffset CreatedAt, string Secret);

public sealed record WorkerList(string Object, IReadOnlyList<WorkerResource> Data);
