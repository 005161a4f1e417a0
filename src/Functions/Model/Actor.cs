namespace AgentRuns.Functions.Model;

/// <summary>Who did something: the API key that answered or cancelled, by its id and name (never the key or its hash).</summary>
public sealed record Actor(string KeyId, string Name);

/// <summary>The authenticated caller of a request: every read and write is scoped by its tenant.</summary>
public sealed record Caller(string TenantId, Actor Actor);
