// The model agent's model (optional, deployOpenAi in main.bicep): an Azure OpenAI account that takes Microsoft Entra
// tokens only (no keys), one model deployment, and the Cognitive Services OpenAI User role for the app's identity (and for
// the deploying principal, so a developer can point a local host at the same model with `az login`).

@description('Name of the Azure OpenAI account; also its custom subdomain (https://<name>.openai.azure.com/).')
@minLength(2)
@maxLength(64)
param name string

@description('Region of the account; it must offer the model with the GlobalStandard deployment type.')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('Name of the model deployment: what the app sends as the model (ModelAgent__Model).')
@minLength(1)
param deploymentName string

@description('The model, by its name in the Azure OpenAI model catalog. It must support tool calling.')
@minLength(1)
param modelName string

@description('Version of the model.')
@minLength(1)
param modelVersion string

@description('Capacity in thousands of tokens per minute (GlobalStandard).')
@minValue(1)
param capacity int

@description('Principal id of the function app\'s user-assigned identity.')
param appPrincipalId string

@description('Object id of the deploying principal; it gets the same role. Empty grants nothing.')
param userPrincipalId string = ''

@description('Kind of principal in userPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
])
param userPrincipalType string = 'User'

// Cognitive Services OpenAI User: call deployments (chat completions), nothing else.
var openAiUserRoleId = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: true
  }
}

resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: 'GlobalStandard'
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
  }
}

resource appOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, openAiUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUserRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(account.id, userPrincipalId, openAiUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUserRoleId)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

output endpoint string = account.properties.endpoint
output deploymentName string = deployment.name
