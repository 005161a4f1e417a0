namespace AgentRuns.Functions.Agents;

/// <summary>The agents a run can choose with <c>agent</c> on create.</summary>
public static class AgentNames
{
    /// <summary>The built-in scripted agent: plays <c>input.plan</c>.</summary>
    public const string Scripted = "scripted";

    /// <summary>The tool-calling model agent.</summary>
    public const string Model = "model";
}
