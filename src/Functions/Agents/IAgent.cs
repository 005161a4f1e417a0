namespace AgentRuns.Functions.Agents;

/// <summary>
/// The worker behind a run: given the run's input and what happened so far, it decides the next step.
/// Called from an activity, so it may do I/O; it must tolerate being asked the same question twice.
/// </summary>
public interface IAgent
{
    Task<AgentDecision> DecideAsync(AgentStepInput input, CancellationToken cancellationToken);
}

/// <summary>What the agent is asked: the run input and the history of the run so far.</summary>
/// <param name="StepIndex">How many decisions the agent made before this one (0 for the first).</param>
/// <param name="Answers">The humans' accepted answers, oldest first.</param>
/// <param name="Agent">The agent the run chose (<see cref="AgentNames"/>).</param>
public sealed record AgentStepInput(
    string RunId, string InputJson, int StepIndex, IReadOnlyList<HumanAnswer> Answers, string TenantId = "", string Agent = AgentNames.Scripted)
{
    /// <summary>The payloads of accepted <c>submit_input</c> answers, oldest first.</summary>
    public IReadOnlyList<string> SubmittedInputs() =>
        [.. Answers.Where(a => a.Action == Model.SignalActions.SubmitInput && a.PayloadJson is not null).Select(a => a.PayloadJson!)];
}

/// <summary>A human's accepted answer, as the agent sees it.</summary>
/// <param name="ApprovedActionJson">For an approve: the action approved (the proposed one, with edited arguments if any).</param>
/// <summary>
/// One accepted human answer, as the agent's next steps see it. <paramref name="Prompt"/> is the request's prompt
/// (null in answers recorded before it was kept).
/// </summary>
public sealed record HumanAnswer(string RequestId, string InputKind, string Action, string? PayloadJson, string? ApprovedActionJson, Model.Actor? Actor, string? Prompt = null);

public enum AgentDecisionKind
{
    /// <summary>Did a piece of work: record progress and ask again.</summary>
    Work,

    /// <summary>Needs a human: approval of <see cref="AgentDecision.ProposedActionJson"/>, clarification or data.</summary>
    AskHuman,

    /// <summary>Done: <see cref="AgentDecision.OutputJson"/> is the result.</summary>
    Finish,

    /// <summary>Cannot go on: <see cref="AgentDecision.Reason"/> says why.</summary>
    Fail,

    /// <summary>
    /// Nothing to record yet: ask again after <see cref="AgentDecision.WorkSeconds"/> (a durable timer; the run stays <c>running</c>
    /// and cancellable, and no event is written). An HTTP worker's <c>{"type":"wait","seconds":n}</c>.
    /// </summary>
    Wait,
}

/// <summary>
/// What the agent did on its way to a decision (a model's message, a tool it ran): each is a <c>run.worker.progress</c> event,
/// written before the decision takes effect.
/// </summary>
/// <param name="ArgumentsJson">The tool's arguments, secrets masked.</param>
public sealed record ProgressNote(string Tool, string Summary, string? ArgumentsJson = null);

/// <summary>The agent's decision. Which members are set depends on <see cref="Kind"/>.</summary>
/// <param name="Notes">What the agent did before deciding, recorded as progress first.</param>
public sealed record AgentDecision(
    AgentDecisionKind Kind,
    string? Tool = null,
    string? Summary = null,
    HumanRequestSpec? Request = null,
    string? OutputJson = null,
    string? ReasonCode = null,
    string? Reason = null,
    int WorkSeconds = 0,
    bool OutputRedacted = false,
    IReadOnlyList<ProgressNote>? Notes = null)
{
    /// <param name="workSeconds">How long the work takes; the run stays <c>running</c> (and cancellable) meanwhile.</param>
    public static AgentDecision Work(string tool, string summary, int workSeconds = 0) =>
        new(AgentDecisionKind.Work, Tool: tool, Summary: summary, WorkSeconds: workSeconds);

    public static AgentDecision Ask(string inputKind, string prompt, string? proposedActionJson = null, IReadOnlyList<string>? allowedActions = null) =>
        Ask(new HumanRequestSpec(inputKind, prompt, proposedActionJson, allowedActions));

    public static AgentDecision Ask(HumanRequestSpec request) => new(AgentDecisionKind.AskHuman, Request: request);

    /// <param name="redacted">True when the agent masked secrets in the output.</param>
    public static AgentDecision Finish(string outputJson, bool redacted = false) => new(AgentDecisionKind.Finish, OutputJson: outputJson, OutputRedacted: redacted);

    public static AgentDecision Fail(string reasonCode, string reason) => new(AgentDecisionKind.Fail, ReasonCode: reasonCode, Reason: reason);

    /// <param name="seconds">How long until the agent is asked again.</param>
    public static AgentDecision Wait(int seconds) => new(AgentDecisionKind.Wait, WorkSeconds: seconds);
}
