namespace AgentRuns.Functions.Model;

/// <summary>The actions a human can answer an <c>awaiting_input</c> request with.</summary>
public static class SignalActions
{
    public const string Approve = "approve";
    public const string Reject = "reject";
    public const string SubmitInput = "submit_input";

    public static readonly IReadOnlyList<string> All = [Approve, Reject, SubmitInput];

    public static bool IsKnown(string action) => action is Approve or Reject or SubmitInput;
}
