namespace AgentRuns.Functions.Model;

/// <summary>Why a run waits, and what kind of answer it wants.</summary>
public static class InputKinds
{
    public const string Approval = "approval";
    public const string Clarification = "clarification";
    public const string Data = "data";

    public static string ReasonCodeFor(string inputKind) => inputKind switch
    {
        Approval => "AWAITING_APPROVAL",
        Clarification => "NEEDS_CLARIFICATION",
        Data => "NEEDS_DATA",
        _ => throw new ArgumentOutOfRangeException(nameof(inputKind), inputKind, "Unknown input kind."),
    };

    public static IReadOnlyList<string> DefaultActionsFor(string inputKind) => inputKind == Approval
        ? SignalActions.All
        : [SignalActions.SubmitInput, SignalActions.Reject];
}
